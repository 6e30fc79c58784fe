import { Create, Edit, SimpleForm, TextInput, maxLength, required } from 'react-admin'

const validateName = [required(), maxLength(100)]

export function CategoryCreate() {
  return (
    <Create redirect="list" mutationMode="pessimistic">
      <SimpleForm>
        <TextInput source="name" validate={validateName} autoComplete="off" />
      </SimpleForm>
    </Create>
  )
}

export function CategoryEdit() {
  return (
    <Edit redirect="list" mutationMode="pessimistic">
      <SimpleForm>
        <TextInput source="name" validate={validateName} autoComplete="off" />
      </SimpleForm>
    </Edit>
  )
}
