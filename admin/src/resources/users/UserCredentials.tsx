import { useState } from 'react'
import { useParams } from 'react-router-dom'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Button, Card, CardContent, CardHeader, Table, TableBody, TableCell, TableHead, TableRow, Typography } from '@mui/material'
import { Confirm, useDataProvider, useLocaleState, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { ApiToken } from '../../api/resources/tokens.ts'
import { ScopeChips } from '../tokens/scopes.tsx'

/**
 * A site admin's view of one user's live console sign-ins and API tokens, each with what it may
 * do and where it was last used, and Revoke: the credential stops on its next request and its
 * open live streams end.
 */
export function UserCredentials() {
  const { id } = useParams<{ id: string }>()
  const translate = useTranslate()
  const notify = useNotify()
  const [locale] = useLocaleState()
  const dataProvider = useDataProvider<AppDataProvider>()
  const queryClient = useQueryClient()
  const [revoking, setRevoking] = useState<ApiToken>()
  const key = ['users', 'credentials', id]
  const { data, isPending, error } = useQuery({ queryKey: key, queryFn: () => dataProvider.listUserTokens(id!), enabled: Boolean(id) })
  const revoke = useMutation({
    mutationFn: (token: ApiToken) => dataProvider.revokeUserToken(id!, token.id),
    onSuccess: () => {
      notify('helpline.users.credential_revoked', { type: 'info' })
      void queryClient.invalidateQueries({ queryKey: key })
    },
    onError: (e: Error) => notify(e.message || 'ra.notification.http_error', { type: 'error' }),
    onSettled: () => setRevoking(undefined),
  })
  const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' }) : translate('helpline.tokens.never'))

  return (
    <Card sx={{ mt: 2 }} data-testid="user-credentials">
      <CardHeader title={translate('helpline.users.credentials')} subheader={translate('helpline.users.credentials_hint')} />
      <CardContent>
        {error ? (
          <Typography color="error">{(error as Error).message}</Typography>
        ) : isPending ? null : data!.data.length === 0 ? (
          <Typography color="text.secondary">{translate('helpline.users.no_credentials')}</Typography>
        ) : (
          <Table size="small">
            <TableHead>
              <TableRow>
                <TableCell>{translate('helpline.users.credential_kind')}</TableCell>
                <TableCell>{translate('resources.tokens.fields.name')}</TableCell>
                <TableCell>{translate('resources.tokens.fields.scopes')}</TableCell>
                <TableCell>{translate('resources.tokens.fields.createdAt')}</TableCell>
                <TableCell>{translate('resources.tokens.fields.lastUsedAt')}</TableCell>
                <TableCell>{translate('resources.tokens.fields.lastUsedIp')}</TableCell>
                <TableCell />
              </TableRow>
            </TableHead>
            <TableBody>
              {data!.data.map((token) => (
                <TableRow key={token.id}>
                  <TableCell>{translate(`helpline.users.kind.${token.kind}`)}</TableCell>
                  <TableCell>
                    {token.name} <Typography component="span" sx={{ fontFamily: 'monospace', color: 'text.secondary' }}>{token.prefix}…</Typography>
                  </TableCell>
                  <TableCell>
                    <ScopeChips scopes={token.scopes} />
                  </TableCell>
                  <TableCell>{when(token.createdAt)}</TableCell>
                  <TableCell>{when(token.lastUsedAt)}</TableCell>
                  <TableCell sx={{ fontFamily: 'monospace' }}>{token.lastUsedIp ?? '—'}</TableCell>
                  <TableCell align="right">
                    <Button color="warning" size="small" onClick={() => setRevoking(token)}>
                      {translate('helpline.tokens.revoke')}
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
      <Confirm
        isOpen={Boolean(revoking)}
        loading={revoke.isPending}
        title="helpline.users.revoke_title"
        content="helpline.users.revoke_content"
        translateOptions={{ name: revoking?.name ?? '' }}
        onConfirm={() => revoking && revoke.mutate(revoking)}
        onClose={() => setRevoking(undefined)}
      />
    </Card>
  )
}
