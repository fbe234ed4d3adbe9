// The dashboard's root: data (TanStack Query), translations, the frame, and the route table.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { Suspense } from 'react';
import { Route, Switch } from 'wouter';
import { Guard } from './components/guard';
import { Layout } from './components/layout';
import { Loading } from './components/ui';
import { I18nProvider, useI18n } from './i18n';
import { routes } from './routes';

export const queryClient = new QueryClient({
  defaultOptions: {
    // An error answer of the API is a fact, not a network hiccup: say it at once.
    queries: { retry: false, refetchOnWindowFocus: true },
  },
});

function NotFound() {
  const { t } = useI18n();
  return <h1>{t('common.notFound')}</h1>;
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <I18nProvider>
        <Layout>
          <Suspense fallback={<Loading />}>
            <Switch>
              {routes.map(({ path, access, page: Page }) => (
                <Route key={path} path={path}>
                  {(params) => (
                    <Guard access={access} params={params}>
                      <Page />
                    </Guard>
                  )}
                </Route>
              ))}
              <Route>
                <NotFound />
              </Route>
            </Switch>
          </Suspense>
        </Layout>
      </I18nProvider>
    </QueryClientProvider>
  );
}
