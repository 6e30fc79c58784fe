import { Create, Edit, SimpleForm, TextInput, maxLength, required } from 'react-admin'

const validateName = [required(), maxLength(100)]

/** A category is its name: create and rename share the one input. */
function CategoryForm() {
  return (
    <SimpleForm>
      <TextInput source="name" validate={validateName} autoComplete="off" />
    </SimpleForm>
  )
}

export function CategoryCreate() {
  return (
    <Create redirect="list" mutationMode="pessimistic">
      <CategoryForm />
    </Create>
  )
}

export function CategoryEdit() {
  return (
    <Edit redirect="list" mutationMode="pessimistic">
      <CategoryForm />
    </Edit>
  )
}
