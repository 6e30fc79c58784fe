import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import { useMutation } from '@tanstack/react-query'
import { Box, Card, CardContent, CardHeader, IconButton, Stack, TextField, Tooltip, Typography } from '@mui/material'
import Send from '@mui/icons-material/Send'
import { useDataProvider, useNotify, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { ChatMessage } from '../../api/resources/sessions.ts'
import { scriptRunView, type LiveState } from './live.ts'
import { ScriptRunLog } from './ScriptRunLog.tsx'
import { systemLineText } from './system-lines.ts'
import { useFormatTime, type ApplyChange } from './useSessionLive.ts'

function Bubble({ message, live, apply }: { message: ChatMessage; live: LiveState; apply: ApplyChange }) {
  const translate = useTranslate()
  const time = useFormatTime()
  const session = live.session
  const run = scriptRunView(live, message)
  if (run) return <ScriptRunLog view={run} apply={apply} />
  if (message.sender === 'system') {
    return (
      <Typography
        variant="caption"
        color="text.secondary"
        component="div"
        sx={{ textAlign: 'center', fontStyle: 'italic', py: 0.5 }}
        data-sender="system"
        title={time(message.createdAt)}
      >
        {systemLineText(message, session, translate, time)}
      </Typography>
    )
  }
  const mine = message.sender === 'csr'
  return (
    <Box sx={{ display: 'flex', justifyContent: mine ? 'flex-end' : 'flex-start' }} data-sender={message.sender}>
      <Box
        sx={{
          maxWidth: '85%',
          px: 1.5,
          py: 0.75,
          borderRadius: 2,
          bgcolor: mine ? 'primary.main' : 'action.selected',
          color: mine ? 'primary.contrastText' : 'text.primary',
        }}
      >
        <Typography variant="caption" component="div" sx={{ opacity: 0.8 }}>
          {message.authorName} · {time(message.createdAt)}
        </Typography>
        <Typography variant="body2" sx={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }} data-testid="chat-body">
          {message.body}
        </Typography>
      </Box>
    </Box>
  )
}

/** The conversation with the customer's agent, live; Enter sends, Shift+Enter starts a new line. */
export function ChatPanel({ live, apply }: { live: LiveState; apply: ApplyChange }) {
  const translate = useTranslate()
  const notify = useNotify()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [draft, setDraft] = useState('')
  const scroller = useRef<HTMLDivElement>(null)
  const { session, chat } = live
  const open = session.status !== 'ended'

  useEffect(() => {
    const el = scroller.current
    if (el) el.scrollTop = el.scrollHeight
  }, [chat.length])

  const { mutate, isPending } = useMutation<ChatMessage, Error, string>({
    mutationFn: (body) => dataProvider.postChat(session.id, body),
    onSuccess: (message) => {
      apply({ event: 'chat', data: message })
      setDraft('')
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  const send = (event?: FormEvent) => {
    event?.preventDefault()
    const body = draft.trim()
    if (body && !isPending) mutate(body)
  }
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      send()
    }
  }

  return (
    <Card data-testid="chat">
      <CardHeader title={translate('helpline.chat.title')} slotProps={{ title: { variant: 'h6', component: 'h2' } }} sx={{ pb: 0 }} />
      <CardContent>
        <Stack
          ref={scroller}
          spacing={1}
          sx={{ height: 360, overflowY: 'auto', pr: 0.5 }}
          role="log"
          aria-live="polite"
          aria-label={translate('helpline.chat.title')}
        >
          {chat.length === 0 && (
            <Typography variant="body2" color="text.secondary">
              {translate('helpline.chat.empty')}
            </Typography>
          )}
          {chat.map((m) => (
            <Bubble key={m.id} message={m} live={live} apply={apply} />
          ))}
        </Stack>
        {open ? (
          <Box component="form" onSubmit={send} sx={{ display: 'flex', gap: 1, mt: 1.5, alignItems: 'flex-end' }}>
            <TextField
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
              placeholder={translate('helpline.chat.placeholder')}
              multiline
              maxRows={4}
              size="small"
              fullWidth
              slotProps={{ htmlInput: { maxLength: 4000, 'aria-label': translate('helpline.chat.placeholder'), 'data-testid': 'chat-input' } }}
            />
            <Tooltip title={translate('helpline.chat.send')}>
              <span>
                <IconButton type="submit" color="primary" disabled={!draft.trim() || isPending} aria-label={translate('helpline.chat.send')}>
                  <Send />
                </IconButton>
              </span>
            </Tooltip>
          </Box>
        ) : (
          <Typography variant="body2" color="text.secondary" sx={{ mt: 1.5 }}>
            {translate('helpline.chat.closed')}
          </Typography>
        )}
      </CardContent>
    </Card>
  )
}
