import { Create } from 'react-admin'
import { ScriptForm } from './ScriptForm.tsx'

const defaults = { published: false, defaultTimeoutSeconds: 600, description: '', executable: null, inputs: [] }

export function ScriptCreate() {
  return (
    <Create title="helpline.scripts.create_title" redirect="show" mutationMode="pessimistic">
      <ScriptForm defaultValues={defaults} />
    </Create>
  )
}
