import { useState } from 'react'
import { Create, DateTimeInput, SimpleForm, TextInput, required, useRedirect } from 'react-admin'
import type { CreatedApiToken } from '../../api/resources/tokens.ts'
import { TokenCreatedDialog } from './TokenCreatedDialog.tsx'

const inFuture = (value: unknown) => {
  if (value === undefined || value === null || value === '') return undefined
  const when = value instanceof Date ? value : new Date(String(value))
  return when.getTime() > Date.now() ? undefined : 'helpline.validation.expires_in_past'
}

export function TokenCreate() {
  const redirect = useRedirect()
  const [created, setCreated] = useState<CreatedApiToken>()
  return (
    <>
      <Create
        title="helpline.tokens.create"
        mutationMode="pessimistic"
        mutationOptions={{ onSuccess: (data: CreatedApiToken) => setCreated(data) }}
      >
        <SimpleForm>
          <TextInput source="name" validate={required()} autoComplete="off" />
          <DateTimeInput source="expiresAt" helperText="helpline.tokens.expires_hint" validate={inFuture} />
        </SimpleForm>
      </Create>
      {created && <TokenCreatedDialog token={created.token} onClose={() => redirect('list', 'tokens')} />}
    </>
  )
}
