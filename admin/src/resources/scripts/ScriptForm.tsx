import type { ReactElement } from 'react'
import {
  BooleanInput,
  NumberInput,
  ReferenceInput,
  SelectInput,
  SimpleForm,
  TextInput,
  maxLength,
  maxValue,
  minValue,
  required,
} from 'react-admin'
import { ExecutableInput, FileBudget, InputFilesInput } from './ScriptFilesInput.tsx'

const validateName = [required(), maxLength(100)]
const validateTimeout = [required(), minValue(1), maxValue(3600)]

/**
 * Create and edit share one form. Field names are the API's, so its field errors (a taken
 * name, an unknown category, an executable it cannot run) land on the right input.
 */
export function ScriptForm({ toolbar, defaultValues }: { toolbar?: ReactElement; defaultValues?: Record<string, unknown> }) {
  return (
    <SimpleForm toolbar={toolbar} defaultValues={defaultValues} sx={{ maxWidth: 720 }}>
      <TextInput source="name" validate={validateName} autoComplete="off" />
      <ReferenceInput source="categoryId" reference="categories" perPage={100} sort={{ field: 'name', order: 'ASC' }}>
        <SelectInput optionText="name" validate={required()} />
      </ReferenceInput>
      <TextInput source="description" multiline minRows={2} validate={maxLength(4000)} />
      <BooleanInput source="published" helperText="helpline.scripts.published_hint" />
      <NumberInput source="defaultTimeoutSeconds" min={1} max={3600} step={1} validate={validateTimeout} />
      <ExecutableInput />
      <InputFilesInput />
      <FileBudget />
    </SimpleForm>
  )
}
