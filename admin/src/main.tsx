import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App.tsx'
import { createI18nProvider, initialLanguage, loadCatalog, pickLocale } from './i18n/index.ts'

const root = document.getElementById('root')
if (!root) throw new Error('index.html has no #root element')

// Only the user's language is downloaded before the first page; the other one when switched to.
const language = initialLanguage()
const locale = pickLocale(language)
void loadCatalog(locale).then((messages) =>
  createRoot(root).render(
    <StrictMode>
      <App i18nProvider={createI18nProvider(language, { [locale]: messages })} />
    </StrictMode>,
  ),
)
