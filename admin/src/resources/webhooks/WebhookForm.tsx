import { BooleanInput, CheckboxGroupInput, SimpleForm, TextInput, required, type SimpleFormProps } from 'react-admin'
import { eventChoices } from './events.ts'

const httpUrl = (value: unknown) => (typeof value === 'string' && /^https?:\/\//i.test(value.trim()) ? undefined : 'helpline.webhooks.url_invalid')
const someEvent = (value: unknown) => (Array.isArray(value) && value.length > 0 ? undefined : 'helpline.webhooks.event_required')

/** Create and edit share the fields; the API checks the URL too (422 WEBHOOK_URL_INVALID lands on the field). */
export function WebhookForm(props: Omit<SimpleFormProps, 'children'>) {
  return (
    <SimpleForm {...props}>
      <TextInput source="url" validate={[required(), httpUrl]} helperText="helpline.webhooks.url_hint" fullWidth autoComplete="off" />
      <TextInput source="description" fullWidth />
      <CheckboxGroupInput source="eventTypes" choices={eventChoices} row={false} validate={someEvent} />
      <BooleanInput source="enabled" />
    </SimpleForm>
  )
}
