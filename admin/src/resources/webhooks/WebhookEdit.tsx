import { Edit } from 'react-admin'
import { WebhookForm } from './WebhookForm.tsx'

/** The secret does not change here: delete the endpoint and create it anew to get a new one. */
export function WebhookEdit() {
  return (
    <Edit mutationMode="pessimistic" redirect="show">
      <WebhookForm />
    </Edit>
  )
}
