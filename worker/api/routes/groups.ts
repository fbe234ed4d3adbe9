// /groups and their members: thin handlers over worker/domain/groups.ts and members.ts.
import { createSelectSchema } from 'drizzle-zod';
import { keyBoundsSchema } from '../../auth/key-bounds';
import { PERIODS } from '../../budgets/periods';
import { accounts, budgets, groupMembers, groups } from '../../db/schema';
import { createGroup, deleteGroup, getGroup, groupState, listGroups, updateGroup } from '../../domain/groups';
import {
  addMember,
  changeRole,
  leaveGroup,
  listMembers,
  removeMember,
  transferOwnership,
} from '../../domain/members';
import { PRESETS } from '../../providers/compatible';
import { policyOverridesSchema, poolPoliciesSchema } from '../../scheduling/policy';
import {
  displayText,
  errorResponse,
  IdParam,
  jsonBody,
  jsonResponse,
  newRouter,
  orNull,
  route,
  TimeZone,
  z,
} from '../openapi';
import { requireCaller } from '../principal';

export const GroupSchema = createSelectSchema(groups, {
  scheduling: policyOverridesSchema.nullable(),
  keyBounds: keyBoundsSchema.nullable(),
}).openapi('Group');

const MemberSchema = z
  .object({
    userId: z.string(),
    role: z.enum(groupMembers.role.enumValues),
    email: z.string(),
    name: z.string(),
    joinedAt: z.number().int(),
  })
  .openapi('Member');

export const MembershipSchema = createSelectSchema(groupMembers).openapi('Membership');

const GroupDetailSchema = GroupSchema.extend({ members: z.array(MemberSchema) }).openapi('GroupDetail');

// What the gate schedules with (worker/scheduling/group-config.ts). Its accounts carry no
// credential, endpoint or model mapping (only the mapped names), so all of it may be shown.
const GroupConfigSchema = z
  .object({
    id: z.string(),
    kind: z.enum(groups.kind.enumValues),
    enterpriseId: z.string().nullable(),
    budgets: z
      .array(
        z.object({
          id: z.string(),
          scope: z.enum(budgets.scope.enumValues),
          target: z.string(),
          period: z.enum(PERIODS),
          limitMicros: z.number().int(),
          mode: z.enum(budgets.mode.enumValues),
          timeZone: z.string(),
        }),
      )
      .optional()
      .openapi({ description: 'Absent in a configuration stored before budgets were scheduled.' }),
    scheduling: policyOverridesSchema.nullable(),
    keyBounds: keyBoundsSchema.nullable(),
    pools: poolPoliciesSchema.nullable(),
    accounts: z.array(
      createSelectSchema(accounts)
        .pick({
          id: true,
          name: true,
          provider: true,
          priority: true,
          weight: true,
          maxConcurrency: true,
          supportedModels: true,
          enabled: true,
        })
        .extend({
          family: z.array(z.string()).readonly(),
          preset: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS]).nullable(),
          mapped: z.array(z.string()),
        }),
    ),
  })
  .openapi('GroupConfig', {
    description: 'What the gate schedules with; null in its state before it was first configured.',
  });

const GroupStateSchema = z
  .object({
    config: orNull(GroupConfigSchema),
    leasesInUse: z.number().int(),
    revokedKeys: z.number().int(),
    sessions: z.array(z.object({ sessionKey: z.string(), accountId: z.string(), expiresAt: z.number() })),
    budgets: z
      .array(
        z.object({
          budgetId: z.string(),
          scope: z.enum(budgets.scope.enumValues),
          target: z.string().openapi({
            description: 'The budget’s target: its group, department, enterprise, member or key id.',
          }),
          period: z.enum(budgets.period.enumValues),
          periodKey: z.string(),
          mode: z.enum(budgets.mode.enumValues),
          limitMicros: z.number().int(),
          spentMicros: z.number().int().nullable(),
          reservedMicros: z.number().int().nullable(),
          allowanceMicros: z.number().int().nullable(),
          resetsAt: z.number().int().nullable(),
        }),
      )
      .openapi({
        description:
          "The budgets this group's gate enforces, as its counters stand: a local budget's spent and reserved micro-dollars in this period; a wide one's (enterprise, department) allowance left to this group.",
      }),
  })
  .openapi('GroupState');

const name = displayText();
const maxMembers = z.number().int().min(1).max(10_000);
const id = z.string().min(1).max(64);

/** How the group's monthly bill is shared (docs/billing.md). */
const billingSettings = {
  splitMode: z.enum(groups.splitMode.enumValues).optional(),
  prorateByDays: z.boolean().optional(),
  timeZone: TimeZone.optional().openapi({
    description: 'IANA zone whose calendar months the bill follows (default UTC).',
  }),
};

const GroupInput = z
  .strictObject({
    name,
    kind: z.enum(groups.kind.enumValues),
    /** An existing account to bind a carpool to (system admins). */
    accountId: id.optional(),
    /** Required for an enterprise group. */
    enterpriseId: id.optional(),
    /** A department of the same enterprise. */
    departmentId: id.optional(),
    maxMembers: maxMembers.default(10),
    ...billingSettings,
    scheduling: policyOverridesSchema.nullable().optional(),
    keyBounds: keyBoundsSchema.nullable().optional(),
  })
  .openapi('GroupInput');

const GroupChanges = z
  .strictObject({
    name: name.optional(),
    maxMembers: maxMembers.optional(),
    ...billingSettings,
    feePayerUserId: id
      .nullable()
      .optional()
      .openapi({ description: 'A member who pays the account’s fee; null: the first owner.' }),
    scheduling: policyOverridesSchema.nullable().optional(),
    keyBounds: keyBoundsSchema.nullable().optional(),
    departmentId: id.nullable().optional(),
  })
  .openapi('GroupChanges');

const MemberInput = z
  .strictObject({ userId: id, role: z.enum(groupMembers.role.enumValues).default('member') })
  .openapi('MemberInput');

const MemberParams = IdParam.extend({
  userId: id.openapi({ param: { name: 'userId', in: 'path' } }),
});

const members = jsonResponse(z.object({ data: z.array(MemberSchema) }), 'The members.');

const RemovalSchema = z
  .object({ groupId: z.string(), userId: z.string(), keysRevoked: z.number().int() })
  .openapi('Removal');

export const groupRoutes = newRouter()
  .openapi(
    route('signed-in', {
      method: 'post',
      path: '/groups',
      summary:
        'Create a group: a carpool (anyone signed in; the creator owns it) or an enterprise group (group.create in the enterprise)',
      request: jsonBody(GroupInput),
      responses: {
        409: errorResponse('The account named is bound or pooled elsewhere.'),
        201: jsonResponse(GroupSchema, 'The group.'),
      },
    }),
    async (c) => {
      return c.json(await createGroup(requireCaller(c), c.req.valid('json')), 201);
    },
  )
  .openapi(
    route('signed-in', {
      method: 'get',
      path: '/groups',
      summary: 'The groups the caller is in, and those of the enterprises they run (all, for a system admin)',
      responses: { 200: jsonResponse(z.object({ data: z.array(GroupSchema) }), 'The groups.') },
    }),
    async (c) => c.json({ data: await listGroups(requireCaller(c)) }, 200),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}',
      summary: 'One group, with its members',
      request: { params: IdParam },
      responses: { 200: jsonResponse(GroupDetailSchema, 'The group.') },
    }),
    async (c) => c.json(await getGroup(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'patch',
      path: '/groups/{id}',
      summary:
        'Change a group: name, maxMembers (not below its member count), scheduling, keyBounds, the bill’s splitMode, prorateByDays, timeZone and feePayerUserId; departmentId needs group.create',
      request: { params: IdParam, ...jsonBody(GroupChanges) },
      responses: {
        409: errorResponse('maxMembers below the members the group has.'),
        200: jsonResponse(GroupSchema, 'The group.'),
      },
    }),
    async (c) =>
      c.json(await updateGroup(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'delete',
      path: '/groups/{id}',
      summary:
        'Delete a group: its keys are revoked, its members and invites removed, a carpool’s account unbound (an enterprise group also needs group.create)',
      request: { params: IdParam },
      responses: {
        409: errorResponse(
          'A closed month still has members owing the fee payer (details.month, details.unsettled).',
        ),
        200: jsonResponse(z.object({ id: z.string(), keysRevoked: z.number().int() }), 'What was deleted.'),
      },
    }),
    async (c) => c.json(await deleteGroup(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'get',
      path: '/groups/{id}/state',
      summary: 'The group gate’s live state: leases in use and sticky sessions with their accounts',
      request: { params: IdParam },
      responses: { 200: jsonResponse(GroupStateSchema, 'The state.') },
    }),
    async (c) => c.json(await groupState(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.view', {
      method: 'get',
      path: '/groups/{id}/members',
      summary: 'The members of a group',
      request: { params: IdParam },
      responses: { 200: members },
    }),
    async (c) => c.json({ data: await listMembers(requireCaller(c), c.req.valid('param').id) }, 200),
  )
  .openapi(
    route('group.manage', {
      method: 'post',
      path: '/groups/{id}/members',
      summary:
        'Add a person by id: a system admin anyone, an enterprise group’s managers the enterprise’s people (carpools invite)',
      request: { params: IdParam, ...jsonBody(MemberInput) },
      responses: {
        409: errorResponse('The person is a member already, or the group is full.'),
        201: jsonResponse(MembershipSchema, 'The membership.'),
      },
    }),
    async (c) => c.json(await addMember(requireCaller(c), c.req.valid('param').id, c.req.valid('json')), 201),
  )
  .openapi(
    route('group.manage', {
      method: 'patch',
      path: '/groups/{id}/members/{userId}',
      summary: 'Change a member’s role (a carpool’s last owner cannot be demoted)',
      request: {
        params: MemberParams,
        ...jsonBody(z.strictObject({ role: z.enum(groupMembers.role.enumValues) }).openapi('RoleChange')),
      },
      responses: {
        409: errorResponse('A carpool keeps at least one owner.'),
        200: jsonResponse(MembershipSchema, 'The membership.'),
      },
    }),
    async (c) => {
      const { id: groupId, userId } = c.req.valid('param');
      return c.json(await changeRole(requireCaller(c), groupId, userId, c.req.valid('json').role), 200);
    },
  )
  .openapi(
    route('group.manage', {
      method: 'delete',
      path: '/groups/{id}/members/{userId}',
      summary: 'Remove a member: their keys in the group are revoked at once',
      request: { params: MemberParams },
      responses: {
        409: errorResponse('A carpool keeps at least one owner.'),
        200: jsonResponse(RemovalSchema, 'Who was removed, and how many keys were revoked.'),
      },
    }),
    async (c) => {
      const { id: groupId, userId } = c.req.valid('param');
      return c.json(await removeMember(requireCaller(c), groupId, userId), 200);
    },
  )
  .openapi(
    route('group.view', {
      method: 'post',
      path: '/groups/{id}/leave',
      summary: 'Leave a group (a carpool’s last owner transfers it first): one’s keys in it are revoked',
      request: { params: IdParam },
      responses: {
        409: errorResponse('A carpool keeps at least one owner: hand it over first.'),
        200: jsonResponse(RemovalSchema, 'The group left, and how many keys were revoked.'),
      },
    }),
    async (c) => c.json(await leaveGroup(requireCaller(c), c.req.valid('param').id), 200),
  )
  .openapi(
    route('group.manage', {
      method: 'post',
      path: '/groups/{id}/transfer',
      summary: 'Make a member the group’s only owner (every other owner becomes a member)',
      request: { params: IdParam, ...jsonBody(z.strictObject({ userId: id }).openapi('OwnershipTransfer')) },
      responses: { 200: members },
    }),
    async (c) => {
      const { userId } = c.req.valid('json');
      return c.json(
        { data: await transferOwnership(requireCaller(c), c.req.valid('param').id, userId) },
        200,
      );
    },
  );
