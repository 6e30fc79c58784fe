import { useState } from 'react'
import { Button, Dialog, DialogActions, DialogContent, DialogTitle } from '@mui/material'
import OpenInNew from '@mui/icons-material/OpenInNew'
import { Create, SimpleForm, TextInput, email, maxLength, required, useRedirect, useTranslate } from 'react-admin'
import type { Session } from '../../api/resources/sessions.ts'
import { JoinInstructions } from './JoinInstructions.tsx'

/** Shown once the session exists: the number to read out and the command to paste. */
function SessionCreatedDialog({ session, onOpen }: { session: Session; onOpen: () => void }) {
  const translate = useTranslate()
  return (
    <Dialog open maxWidth="md" fullWidth aria-labelledby="session-created-title">
      <DialogTitle id="session-created-title">{translate('helpline.sessions.created_title')}</DialogTitle>
      <DialogContent>
        <JoinInstructions number={session.number} customerName={session.customerName} customerEmail={session.customerEmail} csrName={session.csr.name} />
      </DialogContent>
      <DialogActions>
        <Button variant="contained" onClick={onOpen} startIcon={<OpenInNew />}>
          {translate('helpline.sessions.open')}
        </Button>
      </DialogActions>
    </Dialog>
  )
}

export function SessionCreate() {
  const redirect = useRedirect()
  const [created, setCreated] = useState<Session>()
  return (
    <>
      <Create
        title="helpline.sessions.create"
        mutationMode="pessimistic"
        mutationOptions={{ onSuccess: (data: Session) => setCreated(data) }}
      >
        <SimpleForm>
          <TextInput source="customerName" validate={[required(), maxLength(200)]} autoComplete="off" />
          <TextInput source="customerEmail" type="email" validate={[email(), maxLength(254)]} autoComplete="off" />
          <TextInput source="description" multiline minRows={3} validate={maxLength(2000)} fullWidth />
        </SimpleForm>
      </Create>
      {created && <SessionCreatedDialog session={created} onOpen={() => redirect('show', 'sessions', created.id)} />}
    </>
  )
}
