// /accounts/oauth/start and /accounts/oauth/finish: adding a subscription account (claude-oauth,
// codex-oauth, gemini-oauth) by signing in at the provider. Thin handlers over
// worker/domain/oauth-accounts.ts, which checks that the caller may create the account they ask for.
import { finishOAuth, oauthKinds, startOAuth } from '../../domain/oauth-accounts';
import { MODEL_NAME_MAX } from '../../limits';
import { OAUTH_KINDS } from '../../oauth/config';
import {
  displayText,
  errorResponse,
  jsonBody,
  jsonResponse,
  newRouter,
  route,
  UpstreamUrl,
  z,
} from '../openapi';
import { requireCaller } from '../principal';
import { AccountSchema } from './accounts';

const modelName = z.string().min(1).max(MODEL_NAME_MAX);
const id = z.string().min(1).max(64);

const OAuthStartInput = z
  .strictObject({
    kind: z.enum(OAUTH_KINDS),
    enterpriseId: id
      .optional()
      .openapi({ description: 'A pool account of this enterprise (ai.manage there).' }),
    groupId: id.optional().openapi({ description: 'The account of this carpool (its owner).' }),
    accountId: id.optional().openapi({
      description: 'Sign this subscription account in again (ai.manage on it): new tokens, enabled again.',
    }),
    acceptTerms: z.boolean().openapi({
      description:
        "Must be true: the admin confirms the provider's terms for consumer plans (termsUrl). API-key accounts are the recommended choice for enterprise pools.",
    }),
    name: displayText().optional(),
    baseUrl: UpstreamUrl.nullable().optional(),
    modelMapping: z.record(modelName, modelName).nullable().optional(),
    supportedModels: z.array(modelName).nullable().optional(),
    priority: z.number().int().min(0).max(1000).optional(),
    weight: z.number().int().min(1).max(1000).optional(),
    maxConcurrency: z.number().int().min(1).max(10_000).optional(),
  })
  .openapi('OAuthStartInput');

const OAuthStarted = z
  .object({
    authorizeUrl: z.string().openapi({ description: 'Open it, sign in at the provider, copy the code.' }),
    state: z.string(),
    expiresAt: z.number().int(),
    redirectUri: z.string(),
    termsUrl: z.string(),
  })
  .openapi('OAuthStarted');

const OAuthFinishInput = z
  .strictObject({
    state: z.string().min(1).max(500).optional(),
    code: z
      .string()
      .min(1)
      .max(4000)
      .optional()
      .openapi({ description: 'The code, or `code#state` as Claude shows it.' }),
    callbackUrl: z
      .string()
      .min(1)
      .max(8000)
      .optional()
      .openapi({ description: 'Or the whole URL the provider sent you to.' }),
  })
  .openapi('OAuthFinishInput');

const OAuthKindInfo = z
  .object({
    kind: z.enum(OAUTH_KINDS),
    label: z.string(),
    termsUrl: z.string(),
    enabled: z.boolean().openapi({
      description:
        'False when this deployment does not allow the kind (gemini-oauth unless GEMINI_OAUTH_ENABLED=true): start refuses it.',
    }),
  })
  .openapi('OAuthKindInfo');

export const oauthRoutes = newRouter()
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/accounts/oauth/kinds',
      summary: 'The subscription kinds this deployment offers, with their terms (for the sign-in form)',
      responses: {
        200: jsonResponse(z.object({ data: z.array(OAuthKindInfo) }), 'Every kind, enabled or not.'),
      },
    }),
    async (c) => {
      requireCaller(c);
      return c.json({ data: oauthKinds(c.env) }, 200);
    },
  )
  .openapi(
    route('signed-in', {
      method: 'post',
      path: '/accounts/oauth/start',
      summary:
        'Start signing in a subscription account (pool: ai.manage; carpool: its owner): the authorization URL with PKCE',
      request: jsonBody(OAuthStartInput),
      responses: {
        409: errorResponse('The carpool has an account already.'),
        200: jsonResponse(OAuthStarted, 'Where to sign in, and the state to finish with.'),
      },
    }),
    async (c) => c.json(await startOAuth(requireCaller(c), c.req.valid('json')), 200),
  )
  .openapi(
    route('signed-in', {
      method: 'post',
      path: '/accounts/oauth/finish',
      summary:
        'Finish a sign-in: the code is exchanged and the account created (with accountId: signed in again), its tokens encrypted',
      request: jsonBody(OAuthFinishInput),
      responses: {
        502: errorResponse("The provider's token endpoint did not answer usefully."),
        201: jsonResponse(AccountSchema, 'The account (never its tokens).'),
      },
    }),
    async (c) => c.json(await finishOAuth(requireCaller(c), c.req.valid('json')), 201),
  );
