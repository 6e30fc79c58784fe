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

/** The words of the dialog, as translation keys; a token's by default (webhooks reuse it for their secret). */
export interface SecretDialogText {
  title?: string
  warning?: string
  label?: string
  testId?: string
}

/**
 * Shows a new token's secret the one time the API returns it. Closing is an
 * explicit "I have copied it": the dialog has no onClose, so backdrop clicks and Escape do nothing.
 */
export function TokenCreatedDialog({ token, onClose, text = {} }: { token: string; onClose: () => void; text?: SecretDialogText }) {
  const { title = 'helpline.tokens.created_title', warning = 'helpline.tokens.created_warning', label = 'resources.tokens.fields.token', testId = 'new-token' } = text
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
      <DialogTitle id="token-created-title">{translate(title)}</DialogTitle>
      <DialogContent>
        <Alert severity="warning" sx={{ mb: 2 }}>
          {translate(warning)}
        </Alert>
        <TextField
          value={token}
          label={translate(label)}
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
            htmlInput: { 'data-testid': testId, onFocus: (e: FocusEvent<HTMLInputElement>) => e.target.select() },
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
