import { Chip, Stack } from '@mui/material'
import { useRecordContext, useTranslate } from 'react-admin'
import { allScopes, type ApiToken, type Scope } from '../../api/resources/tokens.ts'

/** Scope choices for a form: `admin` only for site admins (the API refuses it to others). */
export function scopeChoices(isAdmin: boolean) {
  return allScopes.filter((s) => isAdmin || s !== 'admin').map((id) => ({ id, name: `helpline.tokens.scope.${id}` }))
}

export function ScopeChips({ scopes }: { scopes: readonly Scope[] }) {
  const translate = useTranslate()
  return (
    <Stack direction="row" spacing={0.5} useFlexGap sx={{ flexWrap: 'wrap' }}>
      {scopes.map((s) => (
        <Chip key={s} size="small" variant="outlined" color={s === 'admin' ? 'warning' : 'default'} label={translate(`helpline.tokens.scope_short.${s}`)} />
      ))}
    </Stack>
  )
}

/** The record's scopes, in a list column. */
export function ScopesField(_props: { label?: string }) {
  const token = useRecordContext<ApiToken>()
  return token ? <ScopeChips scopes={token.scopes} /> : null
}
