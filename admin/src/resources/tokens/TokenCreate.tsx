import { useState } from 'react'
import { Alert } from '@mui/material'
import { CheckboxGroupInput, Create, DateTimeInput, SimpleForm, TextInput, required, useGetIdentity, useRedirect, useTranslate } from 'react-admin'
import type { CreatedApiToken } from '../../api/resources/tokens.ts'
import { TokenCreatedDialog } from './TokenCreatedDialog.tsx'
import { scopeChoices } from './scopes.tsx'

const inFuture = (value: unknown) => {
  if (value === undefined || value === null || value === '') return undefined
  const when = value instanceof Date ? value : new Date(String(value))
  return when.getTime() > Date.now() ? undefined : 'helpline.validation.expires_in_past'
}
const someScope = (value: unknown) => (Array.isArray(value) && value.length > 0 ? undefined : 'helpline.validation.scope_required')

export function TokenCreate() {
  const redirect = useRedirect()
  const translate = useTranslate()
  const { identity } = useGetIdentity()
  const [created, setCreated] = useState<CreatedApiToken>()
  return (
    <>
      <Create
        title="helpline.tokens.create"
        mutationMode="pessimistic"
        mutationOptions={{ onSuccess: (data: CreatedApiToken) => setCreated(data) }}
      >
        <SimpleForm defaultValues={{ scopes: ['read'] }}>
          <Alert severity="info" sx={{ mb: 2, maxWidth: 640 }}>
            {translate('helpline.tokens.least_privilege')}
          </Alert>
          <TextInput source="name" validate={required()} autoComplete="off" />
          <CheckboxGroupInput
            source="scopes"
            choices={scopeChoices(identity?.role === 'admin')}
            row={false}
            validate={someScope}
            helperText="helpline.tokens.scopes_hint"
          />
          <DateTimeInput source="expiresAt" helperText="helpline.tokens.expires_hint" validate={inFuture} />
        </SimpleForm>
      </Create>
      {created && <TokenCreatedDialog token={created.token} onClose={() => redirect('list', 'tokens')} />}
    </>
  )
}
