import { useState } from 'react'
import { Create, useRedirect } from 'react-admin'
import type { CreatedWebhookEndpoint } from '../../api/resources/webhooks.ts'
import { TokenCreatedDialog } from '../tokens/TokenCreatedDialog.tsx'
import { WebhookForm } from './WebhookForm.tsx'

const secretText = { title: 'helpline.webhooks.secret_title', warning: 'helpline.webhooks.secret_warning', label: 'resources.webhooks.fields.secret', testId: 'new-webhook-secret' }

/** After the create, the signing secret is shown once; then the endpoint's page with its deliveries. */
export function WebhookCreate() {
  const redirect = useRedirect()
  const [created, setCreated] = useState<CreatedWebhookEndpoint>()
  return (
    <>
      <Create title="helpline.webhooks.create" mutationMode="pessimistic" mutationOptions={{ onSuccess: (data: CreatedWebhookEndpoint) => setCreated(data) }}>
        <WebhookForm defaultValues={{ enabled: true, eventTypes: ['session.ended'] }} />
      </Create>
      {created && <TokenCreatedDialog token={created.secret} text={secretText} onClose={() => redirect('show', 'webhooks', created.id)} />}
    </>
  )
}
