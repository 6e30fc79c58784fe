import { Create, PasswordInput, SelectInput, SimpleForm, TextInput, required } from 'react-admin'
import { roleChoices } from './roles.ts'
import { usePasswordRule, validateEmail, validateName } from './validation.ts'

export function UserCreate() {
  const passwordRule = usePasswordRule()
  return (
    <Create redirect="list" mutationMode="pessimistic">
      <SimpleForm defaultValues={{ role: 'csr' }}>
        <TextInput source="email" type="email" autoComplete="off" validate={validateEmail} />
        <TextInput source="name" validate={validateName} />
        <SelectInput source="role" choices={roleChoices} validate={required()} />
        <PasswordInput source="password" autoComplete="new-password" validate={[required(), passwordRule]} />
      </SimpleForm>
    </Create>
  )
}
