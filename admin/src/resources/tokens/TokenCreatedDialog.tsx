import { useState, type FocusEvent } from 'react'
import {
  Alert,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  IconButton,
  InputAdornment,
  TextField,
  Tooltip,
} from '@mui/material'
import ContentCopy from '@mui/icons-material/ContentCopy'
import { useNotify, useTranslate } from 'react-admin'

/**
 * Shows a new token's secret the one time the API returns it. Closing is an
 * explicit "I have copied it": the dialog has no onClose, so backdrop clicks and Escape do nothing.
 */
export function TokenCreatedDialog({ token, onClose }: { token: string; onClose: () => void }) {
  const translate = useTranslate()
  const notify = useNotify()
  const [copied, setCopied] = useState(false)

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token)
      setCopied(true)
      notify('helpline.tokens.copied', { type: 'success' })
    } catch {
      notify('helpline.tokens.copy_failed', { type: 'warning' })
    }
  }

  return (
    <Dialog open maxWidth="sm" fullWidth aria-labelledby="token-created-title">
      <DialogTitle id="token-created-title">{translate('helpline.tokens.created_title')}</DialogTitle>
      <DialogContent>
        <Alert severity="warning" sx={{ mb: 2 }}>
          {translate('helpline.tokens.created_warning')}
        </Alert>
        <TextField
          value={token}
          label={translate('resources.tokens.fields.token')}
          fullWidth
          slotProps={{
            input: {
              readOnly: true,
              sx: { fontFamily: 'monospace' },
              endAdornment: (
                <InputAdornment position="end">
                  <Tooltip title={translate('helpline.tokens.copy')}>
                    <IconButton aria-label={translate('helpline.tokens.copy')} onClick={copy} edge="end">
                      <ContentCopy />
                    </IconButton>
                  </Tooltip>
                </InputAdornment>
              ),
            },
            htmlInput: { 'data-testid': 'new-token', onFocus: (e: FocusEvent<HTMLInputElement>) => e.target.select() },
          }}
        />
      </DialogContent>
      <DialogActions>
        <Button onClick={copy} startIcon={<ContentCopy />}>
          {translate('helpline.tokens.copy')}
        </Button>
        <Button onClick={onClose} variant={copied ? 'contained' : 'outlined'}>
          {translate('helpline.tokens.done')}
        </Button>
      </DialogActions>
    </Dialog>
  )
}
