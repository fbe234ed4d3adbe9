// The Code Assist project of a Google account, found once at sign-in and stored with its tokens:
// every Code Assist request names it. As the Gemini CLI sets a user up (google-gemini/gemini-cli
// packages/core/src/code_assist/setup.ts): `loadCodeAssist` tells the account's tier and, once
// onboarded, its project (`cloudaicompanionProject`); an account not yet onboarded is onboarded
// into its default tier with `onboardUser`, a long-running operation, which for the free tier
// ("Gemini Code Assist for individuals") gives a Google-managed project. Accounts whose tier needs
// a Google Cloud project of their own (Workspace, Standard and Enterprise editions) are refused
// with Google's reasons: the relay's sign-in takes no project.
import * as z from 'zod';
import type { SignInCompletion } from '../../oauth/config';
import type { OAuthCredential } from '../../oauth/credential';
import { joinUrl } from '../url';

export const CODE_ASSIST_URL = 'https://cloudcode-pa.googleapis.com';
const VERSION = '/v1internal';
const TIMEOUT_MS = 15_000;
/** Onboarding is a long-running operation: asked again this many times, this far apart, then given up. */
const ONBOARD_POLLS = 5;
const ONBOARD_POLL_MS = 2_000;

/** How gemini-cli describes itself to Code Assist when it sets a user up. */
export const METADATA = {
  ideType: 'IDE_UNSPECIFIED',
  platform: 'PLATFORM_UNSPECIFIED',
  pluginType: 'GEMINI',
};

const Tier = z.looseObject({
  id: z.string().optional(),
  name: z.string().optional(),
  isDefault: z.boolean().optional(),
  userDefinedCloudaicompanionProject: z.boolean().optional(),
});
const IneligibleTier = z.looseObject({
  reasonCode: z.string().optional(),
  reasonMessage: z.string().optional(),
  validationUrl: z.string().optional(),
});
const LoadCodeAssistResponse = z.looseObject({
  currentTier: Tier.nullable().optional(),
  allowedTiers: z.array(Tier).optional(),
  ineligibleTiers: z.array(IneligibleTier).optional(),
  cloudaicompanionProject: z.string().nullable().optional(),
});
const Operation = z.looseObject({
  name: z.string().optional(),
  done: z.boolean().optional(),
  response: z
    .looseObject({ cloudaicompanionProject: z.looseObject({ id: z.string().optional() }).optional() })
    .optional(),
});

type Call<T> = { ok: true; data: T } | { ok: false; refused: boolean; message: string };

async function call<T>(
  url: string,
  accessToken: string,
  schema: z.ZodType<T>,
  body?: unknown,
): Promise<Call<T>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return { ok: false, refused: false, message: 'Code Assist could not be reached.' };
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // The status decides.
  }
  if (!res.ok) {
    const error = (json as { error?: { status?: unknown; message?: unknown } } | null)?.error;
    const what = [error?.status, error?.message].filter((s) => typeof s === 'string').join(': ');
    return {
      ok: false,
      refused: res.status < 500 && res.status !== 429,
      message: `Code Assist answered ${res.status}${what ? ` (${what.slice(0, 200)})` : ''}.`,
    };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    return { ok: false, refused: false, message: 'Code Assist answered in an unknown shape.' };
  return { ok: true, data: parsed.data };
}

type Load = z.infer<typeof LoadCodeAssistResponse>;

/** Why the account has no project: Google's own reasons when it gives them. */
function noProject(load: Load): SignInCompletion {
  const validation = load.ineligibleTiers?.find(
    (t) => t.reasonCode === 'VALIDATION_REQUIRED' && t.validationUrl,
  );
  if (validation)
    return {
      ok: false,
      refused: true,
      message: `Google asks to verify this account first (${validation.validationUrl}); then sign in again.`,
    };
  const reasons = (load.ineligibleTiers ?? []).map((t) => t.reasonMessage).filter(Boolean);
  return {
    ok: false,
    refused: true,
    message:
      reasons.length > 0
        ? `This Google account cannot use Gemini Code Assist here: ${reasons.join('; ').slice(0, 300)}.`
        : 'This Google account needs a Google Cloud project of its own for Gemini Code Assist (Workspace, Standard or Enterprise), which the relay’s sign-in does not take: use a personal Google account (Gemini Code Assist for individuals, Google AI Pro or Ultra), or add the project’s Gemini API through an API-key account.',
  };
}

export async function setUpCodeAssist(
  _env: Env,
  credential: OAuthCredential,
  baseUrl: string | null,
): Promise<SignInCompletion> {
  const base = joinUrl(baseUrl ?? CODE_ASSIST_URL, VERSION);
  const token = credential.accessToken;
  const found = (project: string): SignInCompletion => ({ ok: true, credential: { ...credential, project } });

  const loaded = await call(`${base}:loadCodeAssist`, token, LoadCodeAssistResponse, { metadata: METADATA });
  if (!loaded.ok) return loaded;
  const load = loaded.data;
  if (load.currentTier)
    return load.cloudaicompanionProject ? found(load.cloudaicompanionProject) : noProject(load);
  if (load.ineligibleTiers?.some((t) => t.reasonCode === 'VALIDATION_REQUIRED')) return noProject(load);

  // Not onboarded yet: into the default tier. The free tier's project is Google's to choose
  // (naming one makes onboarding fail), so none is named.
  const tier = load.allowedTiers?.find((t) => t.isDefault);
  if (!tier?.id || tier.userDefinedCloudaicompanionProject) return noProject(load);
  const request = { tierId: tier.id, metadata: METADATA };
  let operation = await call(`${base}:onboardUser`, token, Operation, request);
  for (let poll = 0; operation.ok && !operation.data.done && poll < ONBOARD_POLLS; poll++) {
    await new Promise((resolve) => setTimeout(resolve, ONBOARD_POLL_MS));
    const name = operation.data.name;
    operation = name
      ? await call(`${base}/${name}`, token, Operation)
      : await call(`${base}:onboardUser`, token, Operation, request);
  }
  if (!operation.ok) return operation;
  if (!operation.data.done)
    return {
      ok: false,
      refused: false,
      message: 'Google is still setting up Gemini Code Assist for this account.',
    };
  const project = operation.data.response?.cloudaicompanionProject?.id;
  return project ? found(project) : noProject(load);
}
