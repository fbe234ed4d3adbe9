// The alert routes exist three times, one per scope (worker/api/routes/alerts.ts): the system's
// (/alerts/…), an enterprise's (/enterprises/{id}/alerts/…) and a group's (/groups/{id}/alerts/…).
// This picks the typed path for a scope so the alerts page is written once.
import { api, must, type Schemas } from './client';

export type AlertScope =
  | { kind: 'system' }
  | { kind: 'enterprise'; id: string }
  | { kind: 'group'; id: string };

export function scopeKey(scope: AlertScope): string {
  return scope.kind === 'system' ? 'system' : `${scope.kind}:${scope.id}`;
}

export function parseScope(key: string): AlertScope {
  const [kind, id = ''] = key.split(':');
  return kind === 'enterprise' ? { kind, id } : kind === 'group' ? { kind, id } : { kind: 'system' };
}

export const alertsApi = {
  endpoints(s: AlertScope) {
    if (s.kind === 'system') return must(api.GET('/alerts/endpoints'));
    if (s.kind === 'enterprise')
      return must(api.GET('/enterprises/{id}/alerts/endpoints', { params: { path: { id: s.id } } }));
    return must(api.GET('/groups/{id}/alerts/endpoints', { params: { path: { id: s.id } } }));
  },
  addEndpoint(s: AlertScope, body: Schemas['AlertEndpointInput']) {
    if (s.kind === 'system') return must(api.POST('/alerts/endpoints', { body }));
    if (s.kind === 'enterprise')
      return must(api.POST('/enterprises/{id}/alerts/endpoints', { params: { path: { id: s.id } }, body }));
    return must(api.POST('/groups/{id}/alerts/endpoints', { params: { path: { id: s.id } }, body }));
  },
  deleteEndpoint(s: AlertScope, endpointId: string) {
    if (s.kind === 'system')
      return must(api.DELETE('/alerts/endpoints/{endpointId}', { params: { path: { endpointId } } }));
    if (s.kind === 'enterprise')
      return must(
        api.DELETE('/enterprises/{id}/alerts/endpoints/{endpointId}', {
          params: { path: { id: s.id, endpointId } },
        }),
      );
    return must(
      api.DELETE('/groups/{id}/alerts/endpoints/{endpointId}', {
        params: { path: { id: s.id, endpointId } },
      }),
    );
  },
  testEndpoint(s: AlertScope, endpointId: string) {
    if (s.kind === 'system')
      return must(api.POST('/alerts/endpoints/{endpointId}/test', { params: { path: { endpointId } } }));
    if (s.kind === 'enterprise')
      return must(
        api.POST('/enterprises/{id}/alerts/endpoints/{endpointId}/test', {
          params: { path: { id: s.id, endpointId } },
        }),
      );
    return must(
      api.POST('/groups/{id}/alerts/endpoints/{endpointId}/test', {
        params: { path: { id: s.id, endpointId } },
      }),
    );
  },
  deliveries(s: AlertScope, endpointId: string) {
    if (s.kind === 'system')
      return must(api.GET('/alerts/endpoints/{endpointId}/deliveries', { params: { path: { endpointId } } }));
    if (s.kind === 'enterprise')
      return must(
        api.GET('/enterprises/{id}/alerts/endpoints/{endpointId}/deliveries', {
          params: { path: { id: s.id, endpointId } },
        }),
      );
    return must(
      api.GET('/groups/{id}/alerts/endpoints/{endpointId}/deliveries', {
        params: { path: { id: s.id, endpointId } },
      }),
    );
  },
  rules(s: AlertScope) {
    if (s.kind === 'system') return must(api.GET('/alerts/rules'));
    if (s.kind === 'enterprise')
      return must(api.GET('/enterprises/{id}/alerts/rules', { params: { path: { id: s.id } } }));
    return must(api.GET('/groups/{id}/alerts/rules', { params: { path: { id: s.id } } }));
  },
  addRule(s: AlertScope, body: Schemas['AlertRuleInput']) {
    if (s.kind === 'system') return must(api.POST('/alerts/rules', { body }));
    if (s.kind === 'enterprise')
      return must(api.POST('/enterprises/{id}/alerts/rules', { params: { path: { id: s.id } }, body }));
    return must(api.POST('/groups/{id}/alerts/rules', { params: { path: { id: s.id } }, body }));
  },
  changeRule(s: AlertScope, ruleId: string, body: Schemas['AlertRuleChanges']) {
    if (s.kind === 'system')
      return must(api.PATCH('/alerts/rules/{ruleId}', { params: { path: { ruleId } }, body }));
    if (s.kind === 'enterprise')
      return must(
        api.PATCH('/enterprises/{id}/alerts/rules/{ruleId}', {
          params: { path: { id: s.id, ruleId } },
          body,
        }),
      );
    return must(
      api.PATCH('/groups/{id}/alerts/rules/{ruleId}', { params: { path: { id: s.id, ruleId } }, body }),
    );
  },
  deleteRule(s: AlertScope, ruleId: string) {
    if (s.kind === 'system')
      return must(api.DELETE('/alerts/rules/{ruleId}', { params: { path: { ruleId } } }));
    if (s.kind === 'enterprise')
      return must(
        api.DELETE('/enterprises/{id}/alerts/rules/{ruleId}', { params: { path: { id: s.id, ruleId } } }),
      );
    return must(api.DELETE('/groups/{id}/alerts/rules/{ruleId}', { params: { path: { id: s.id, ruleId } } }));
  },
  rotateSecret(s: AlertScope, endpointId: string) {
    if (s.kind === 'system')
      return must(
        api.POST('/alerts/endpoints/{endpointId}/rotate-secret', { params: { path: { endpointId } } }),
      );
    if (s.kind === 'enterprise')
      return must(
        api.POST('/enterprises/{id}/alerts/endpoints/{endpointId}/rotate-secret', {
          params: { path: { id: s.id, endpointId } },
        }),
      );
    return must(
      api.POST('/groups/{id}/alerts/endpoints/{endpointId}/rotate-secret', {
        params: { path: { id: s.id, endpointId } },
      }),
    );
  },
  silences(s: AlertScope) {
    if (s.kind === 'system') return must(api.GET('/alerts/silences'));
    if (s.kind === 'enterprise')
      return must(api.GET('/enterprises/{id}/alerts/silences', { params: { path: { id: s.id } } }));
    return must(api.GET('/groups/{id}/alerts/silences', { params: { path: { id: s.id } } }));
  },
  firings(s: AlertScope) {
    const query = { limit: 50 };
    if (s.kind === 'system') return must(api.GET('/alerts/firings', { params: { query } }));
    if (s.kind === 'enterprise')
      return must(api.GET('/enterprises/{id}/alerts/firings', { params: { path: { id: s.id }, query } }));
    return must(api.GET('/groups/{id}/alerts/firings', { params: { path: { id: s.id }, query } }));
  },
  addSilence(s: AlertScope, body: Schemas['AlertSilenceInput']) {
    if (s.kind === 'system') return must(api.POST('/alerts/silences', { body }));
    if (s.kind === 'enterprise')
      return must(api.POST('/enterprises/{id}/alerts/silences', { params: { path: { id: s.id } }, body }));
    return must(api.POST('/groups/{id}/alerts/silences', { params: { path: { id: s.id } }, body }));
  },
  endSilence(s: AlertScope, silenceId: string) {
    if (s.kind === 'system')
      return must(api.DELETE('/alerts/silences/{silenceId}', { params: { path: { silenceId } } }));
    if (s.kind === 'enterprise')
      return must(
        api.DELETE('/enterprises/{id}/alerts/silences/{silenceId}', {
          params: { path: { id: s.id, silenceId } },
        }),
      );
    return must(
      api.DELETE('/groups/{id}/alerts/silences/{silenceId}', { params: { path: { id: s.id, silenceId } } }),
    );
  },
};
