import {
  DateField,
  Edit,
  Labeled,
  PasswordInput,
  SaveButton,
  SelectInput,
  SimpleForm,
  TextInput,
  Toolbar,
  TopToolbar,
  ListButton,
  required,
  useRecordContext,
  useTranslate,
} from 'react-admin'
import { Stack } from '@mui/material'
import { roleChoices } from './roles.ts'
import { ToggleDisabledButton } from './ToggleDisabledButton.tsx'
import { UserStatusField } from './UserStatusField.tsx'
import { UserCredentials } from './UserCredentials.tsx'
import { usePasswordRule, validateEmail, validateName } from './validation.ts'
import type { User } from '../../api/resources/users.ts'

/** The user's name rather than react-admin's "User #<uuid>". */
function UserTitle() {
  const user = useRecordContext<User>()
  const translate = useTranslate()
  return <>{user ? translate('helpline.users.edit_title', { name: user.name }) : ''}</>
}

function EditActions() {
  return (
    <TopToolbar>
      <ListButton />
      <ToggleDisabledButton />
    </TopToolbar>
  )
}

/** Users are disabled, never deleted: sessions and the audit trail refer to them. */
function EditToolbar() {
  return (
    <Toolbar>
      <SaveButton />
    </Toolbar>
  )
}

export function UserEdit() {
  const passwordRule = usePasswordRule()
  return (
    <>
      <Edit title={<UserTitle />} actions={<EditActions />} mutationMode="pessimistic" redirect="list">
      <SimpleForm toolbar={<EditToolbar />}>
        <Stack direction="row" spacing={4} sx={{ mb: 2 }}>
          <Labeled source="disabled">
            <UserStatusField />
          </Labeled>
          <Labeled source="lastLoginAt">
            <DateField source="lastLoginAt" showTime emptyText="helpline.users.never" />
          </Labeled>
          <Labeled source="createdAt">
            <DateField source="createdAt" showTime />
          </Labeled>
        </Stack>
        <TextInput source="email" type="email" autoComplete="off" validate={validateEmail} />
        <TextInput source="name" validate={validateName} />
        <SelectInput source="role" choices={roleChoices} validate={required()} />
        <PasswordInput
          source="password"
          autoComplete="new-password"
          helperText="helpline.users.password_hint"
          validate={passwordRule}
        />
      </SimpleForm>
      </Edit>
      <UserCredentials />
    </>
  )
}
