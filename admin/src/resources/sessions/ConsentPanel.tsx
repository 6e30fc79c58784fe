import { useMutation } from '@tanstack/react-query'
import { Box, Button, Card, CardContent, CardHeader, List, ListItem, ListItemText, Stack, Typography } from '@mui/material'
import { useDataProvider, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { Consent } from '../../api/resources/sessions.ts'
import { ConsentStatusChip } from './chips.tsx'
import type { LiveState } from './live.ts'
import { useFormatTime, type ApplyChange } from './useSessionLive.ts'

/** Every consent request of the session and its answer, newest first; pending ones can be withdrawn. */
export function ConsentPanel({ live, apply }: { live: LiveState; apply: ApplyChange }) {
  const translate = useTranslate()
  const time = useFormatTime()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const { mutate, isPending } = useMutation<Consent, Error, string>({
    mutationFn: (consentId) => dataProvider.cancelConsent(live.session.id, consentId),
    onSuccess: (consent) => {
      apply({ event: 'consent', data: consent })
      notify('helpline.consent.withdrawn', { type: 'info' })
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  const consents = [...live.consents].reverse()
  return (
    <Card data-testid="consents">
      <CardHeader title={translate('helpline.consent.title')} slotProps={{ title: { variant: 'h6', component: 'h2' } }} sx={{ pb: 0 }} />
      <CardContent sx={{ pt: 1 }}>
        {consents.length === 0 ? (
          <Typography variant="body2" color="text.secondary">
            {translate('helpline.consent.empty')}
          </Typography>
        ) : (
          <List dense disablePadding sx={{ maxHeight: 220, overflowY: 'auto' }} tabIndex={0} aria-label={translate('helpline.consent.title')}>
            {consents.map((c) => (
              <ListItem key={c.id} disableGutters divider data-consent={c.kind}>
                <ListItemText
                  primary={
                    <Stack sx={{ alignItems: 'center', justifyContent: 'space-between' }} direction="row" spacing={1}>
                      <span>{translate(`helpline.consent.kinds.${c.kind}`)}</span>
                      <ConsentStatusChip status={c.status} />
                    </Stack>
                  }
                  secondary={
                    <Box component="span" sx={{ display: 'block' }}>
                      {translate('helpline.consent.asked', { name: c.requestedBy.name, time: time(c.createdAt) })}
                      {c.answeredAt && (
                        <>
                          <br />
                          {translate('helpline.consent.answered', { time: time(c.answeredAt) })}
                        </>
                      )}
                    </Box>
                  }
                />
                {c.status === 'pending' && (
                  <Button size="small" disabled={isPending} onClick={() => mutate(c.id)} sx={{ ml: 1, flexShrink: 0 }}>
                    {translate('helpline.consent.withdraw')}
                  </Button>
                )}
              </ListItem>
            ))}
          </List>
        )}
      </CardContent>
    </Card>
  )
}
