import { Suspense } from 'react'
import { Admin, CustomRoutes, Loading, Resource, type I18nProvider } from 'react-admin'
import { Route } from 'react-router-dom'
import { authProvider, dataProvider } from './api/index.ts'
import { Layout } from './layout/Layout.tsx'
import { LoginPage } from './layout/LoginPage.tsx'
import { PageNotification } from './layout/PageNotification.tsx'
import { theme } from './layout/theme.ts'
import { lazyPage } from './lazy.ts'
import sessions, { SnapshotPrintPage } from './resources/sessions/index.ts'
import users from './resources/users/index.ts'
import tokens from './resources/tokens/index.ts'
import scripts from './resources/scripts/index.ts'
import categories from './resources/categories/index.ts'
import scriptBatches, { RunScriptsPage } from './resources/script-batches/index.ts'
import reports, { ReportPrintPage, SessionReportPage } from './resources/reports/index.ts'
import webhooks from './resources/webhooks/index.ts'

const ProfilePage = lazyPage(() => import('./profile/ProfilePage.tsx'), 'ProfilePage')
const SettingsPage = lazyPage(() => import('./settings/SettingsPage.tsx'), 'SettingsPage')
const WorkspacePage = lazyPage(() => import('./workspace/WorkspacePage.tsx'), 'WorkspacePage')

/**
 * Resources are offered by role: the API enforces the same rules, this only
 * keeps the menu to what the user may use. Add a resource here and in
 * ./api/index.ts. Sessions come first: they are what a CSR opens the console for.
 */
export function App({ i18nProvider }: { i18nProvider: I18nProvider }) {
  return (
    <Admin
      title="Helpline"
      authProvider={authProvider}
      dataProvider={dataProvider}
      i18nProvider={i18nProvider}
      layout={Layout}
      theme={theme}
      loginPage={LoginPage}
      notification={PageNotification}
      requireAuth
      disableTelemetry
    >
      {(permissions: unknown) => (
        <>
          <Resource name="sessions" {...sessions} />
          <Resource name="script-batches" {...scriptBatches} />
          <Resource name="reports" {...reports} />
          {permissions === 'admin' && <Resource name="users" {...users} />}
          <Resource name="scripts" {...scripts} />
          {/* Everyone reads categories in the script forms; only site admins get their pages. */}
          {permissions === 'admin' ? (
            <Resource name="categories" {...categories} />
          ) : (
            <Resource name="categories" recordRepresentation="name" />
          )}
          <Resource name="tokens" {...tokens} />
          {permissions === 'admin' && <Resource name="webhooks" {...webhooks} />}
          <CustomRoutes>
            <Route path="/profile" element={<ProfilePage />} />
            {permissions === 'admin' && <Route path="/settings" element={<SettingsPage />} />}
            <Route path="/run-scripts" element={<RunScriptsPage />} />
            <Route path="/workspace" element={<WorkspacePage />} />
            {/* More specific than the sessions resource's own routes, so it wins over /sessions/*. */}
            <Route path="/sessions/:id/report" element={<SessionReportPage />} />
          </CustomRoutes>
          {/* The print view is a page of its own: no app bar, no menu, only what goes on paper. */}
          <CustomRoutes noLayout>
            <Route path="/print/sessions/:id/snapshots/:snapshotId" element={<Suspense fallback={<Loading />}><SnapshotPrintPage /></Suspense>} />
            <Route path="/print/sessions/:id/report" element={<Suspense fallback={<Loading />}><ReportPrintPage /></Suspense>} />
          </CustomRoutes>
        </>
      )}
    </Admin>
  )
}
