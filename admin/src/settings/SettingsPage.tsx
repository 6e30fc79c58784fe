import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Alert, Card, CardContent, CardHeader, FormControlLabel, Stack, Switch, Typography } from '@mui/material'
import { Title, useDataProvider, useGetIdentity, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../api/index.ts'

/** Site-wide settings (site admins): for now, whether everyone must sign in with two-factor. */
export function SettingsPage() {
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const queryClient = useQueryClient()
  const { identity } = useGetIdentity()
  const { data } = useQuery({ queryKey: ['settings'], queryFn: () => dataProvider.getSettings() })
  const update = useMutation({
    mutationFn: (requireTwoFactor: boolean) => dataProvider.updateSettings({ requireTwoFactor }),
    onSuccess: (settings) => {
      queryClient.setQueryData(['settings'], settings)
      notify('helpline.settings.saved', { type: 'success' })
    },
    onError: (e: Error) => notify(e.message || 'ra.notification.http_error', { type: 'error' }),
  })
  return (
    <Stack spacing={2} sx={{ mt: 2, maxWidth: 640 }}>
      <Title title="helpline.settings.title" />
      <Card>
        <CardHeader title={translate('helpline.settings.security')} />
        <CardContent>
          <FormControlLabel
            control={
              <Switch
                checked={data?.requireTwoFactor ?? false}
                disabled={!data || update.isPending}
                onChange={(e) => update.mutate(e.target.checked)}
                slotProps={{ input: { 'aria-label': translate('helpline.settings.require_two_factor') } }}
              />
            }
            label={translate('helpline.settings.require_two_factor')}
          />
          <Typography variant="body2" color="text.secondary" sx={{ mt: 1 }}>
            {translate('helpline.settings.require_two_factor_hint')}
          </Typography>
          {data?.requireTwoFactor === false && identity?.twoFactorEnabled !== true && (
            <Alert severity="info" sx={{ mt: 2 }}>
              {translate('helpline.settings.you_first')}
            </Alert>
          )}
        </CardContent>
      </Card>
    </Stack>
  )
}
