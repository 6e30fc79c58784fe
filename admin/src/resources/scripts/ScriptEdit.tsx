import { DeleteWithConfirmButton, Edit, SaveButton, ShowButton, Toolbar, TopToolbar } from 'react-admin'
import { ScriptForm } from './ScriptForm.tsx'
import { ScriptTitle } from './ScriptTitle.tsx'

function EditActions() {
  return (
    <TopToolbar>
      <ShowButton />
    </TopToolbar>
  )
}

export function DeleteScriptButton({ redirect = 'list' }: { redirect?: 'list' | false }) {
  return (
    <DeleteWithConfirmButton
      confirmTitle="helpline.scripts.delete_title"
      confirmContent="helpline.scripts.delete_content"
      successMessage="helpline.scripts.deleted"
      mutationMode="pessimistic"
      redirect={redirect}
    />
  )
}

function EditToolbar() {
  return (
    <Toolbar sx={{ justifyContent: 'space-between' }}>
      <SaveButton />
      <DeleteScriptButton />
    </Toolbar>
  )
}

/** Saving changed files uploads a new version; metadata alone keeps the version. */
export function ScriptEdit() {
  return (
    <Edit title={<ScriptTitle />} actions={<EditActions />} mutationMode="pessimistic" redirect="show">
      <ScriptForm toolbar={<EditToolbar />} />
    </Edit>
  )
}
