import { Create, PasswordInput, SelectInput, SimpleForm, TextInput, required } from 'react-admin'
import { roleChoices } from './roles.ts'
import { validateEmail, validateName, validateNewPassword } from './validation.ts'

export function UserCreate() {
  return (
    <Create redirect="list" mutationMode="pessimistic">
      <SimpleForm defaultValues={{ role: 'csr' }}>
        <TextInput source="email" type="email" autoComplete="off" validate={validateEmail} />
        <TextInput source="name" validate={validateName} />
        <SelectInput source="role" choices={roleChoices} validate={required()} />
        <PasswordInput source="password" autoComplete="new-password" validate={validateNewPassword} />
      </SimpleForm>
    </Create>
  )
}
