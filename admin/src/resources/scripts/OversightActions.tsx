import { useState } from 'react'
import { useMutation } from '@tanstack/react-query'
import { Dialog, DialogActions, DialogContent, DialogContentText, DialogTitle, MenuItem, TextField as MuiTextField } from '@mui/material'
import SwapHoriz from '@mui/icons-material/SwapHoriz'
import VisibilityOff from '@mui/icons-material/VisibilityOff'
import { Button, Confirm, useDataProvider, useGetList, useNotify, useRecordContext, useRefresh, useTranslate } from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { ScriptRecord } from '../../api/resources/scripts.ts'
import type { User } from '../../api/resources/users.ts'

/** A site admin takes someone else's script out of the library (recorded in the site audit trail). */
export function UnpublishScriptButton() {
  const script = useRecordContext<ScriptRecord>()
  const dataProvider = useDataProvider<AppDataProvider>()
  const notify = useNotify()
  const refresh = useRefresh()
  const [open, setOpen] = useState(false)
  const { mutate, isPending } = useMutation<ScriptRecord, Error, string>({
    mutationFn: (id) => dataProvider.unpublishScript(id),
    onSuccess: () => {
      setOpen(false)
      notify('helpline.scripts.unpublished_notice', { type: 'info' })
      refresh()
    },
    onError: (error) => {
      setOpen(false)
      notify(error.message || 'ra.notification.http_error', { type: 'error' })
    },
  })
  if (!script?.published) return null
  return (
    <>
      <Button label="helpline.scripts.unpublish" color="warning" onClick={() => setOpen(true)}>
        <VisibilityOff />
      </Button>
      <Confirm
        isOpen={open}
        loading={isPending}
        title="helpline.scripts.unpublish_title"
        titleTranslateOptions={{ name: script.name }}
        content="helpline.scripts.unpublish_content"
        translateOptions={{ owner: script.ownerName }}
        confirm="helpline.scripts.unpublish"
        confirmColor="warning"
        onConfirm={() => mutate(script.id)}
        onClose={() => setOpen(false)}
      />
    </>
  )
}

/** A site admin gives someone else's script to another active user, who then edits and deletes it. */
export function TransferOwnerButton() {
  const script = useRecordContext<ScriptRecord>()
  const translate = useTranslate()
  const dataProvider = useDataProvider<AppDataProvider>()
  const notify = useNotify()
  const refresh = useRefresh()
  const [open, setOpen] = useState(false)
  const [ownerId, setOwnerId] = useState('')
  const { data: users = [] } = useGetList<User>('users', { pagination: { page: 1, perPage: 100 }, sort: { field: 'name', order: 'ASC' }, filter: { disabled: false } }, { enabled: open })
  const { mutate, isPending } = useMutation<ScriptRecord, Error, { id: string; ownerId: string }>({
    mutationFn: ({ id, ownerId }) => dataProvider.transferScriptOwner(id, ownerId),
    onSuccess: (moved) => {
      setOpen(false)
      notify('helpline.scripts.transferred_notice', { type: 'info', messageArgs: { name: moved.ownerName } })
      refresh()
    },
    onError: (error) => notify(error.message || 'ra.notification.http_error', { type: 'error' }),
  })
  if (!script) return null
  const choices = users.filter((u) => u.id !== script.ownerId)
  return (
    <>
      <Button label="helpline.scripts.transfer" onClick={() => setOpen(true)}>
        <SwapHoriz />
      </Button>
      <Dialog open={open} onClose={() => setOpen(false)} fullWidth maxWidth="xs">
        <DialogTitle>{translate('helpline.scripts.transfer_title', { name: script.name })}</DialogTitle>
        <DialogContent>
          <DialogContentText sx={{ mb: 2 }}>{translate('helpline.scripts.transfer_content', { owner: script.ownerName })}</DialogContentText>
          <MuiTextField
            select
            fullWidth
            label={translate('helpline.scripts.new_owner')}
            value={ownerId}
            onChange={(event) => setOwnerId(event.target.value)}
            slotProps={{ htmlInput: { 'data-testid': 'new-owner' } }}
          >
            {choices.map((u) => (
              <MenuItem key={u.id} value={u.id}>
                {u.name} ({u.email})
              </MenuItem>
            ))}
          </MuiTextField>
        </DialogContent>
        <DialogActions>
          <Button label="ra.action.cancel" onClick={() => setOpen(false)} />
          <Button label="helpline.scripts.transfer" variant="contained" disabled={!ownerId || isPending} onClick={() => mutate({ id: script.id, ownerId })} />
        </DialogActions>
      </Dialog>
    </>
  )
}
