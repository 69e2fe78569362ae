/**
 * Per-user generation quotas: at most N jobs of one user in flight (queued or running), at most M
 * jobs of one user per UTC day. Enforced in Postgres when the job's execution row is inserted
 * (lib/db/executions.ts lockUserQuota), so every n8n worker of a queue-mode setup sees the same
 * counts and two workers never both admit the job that exceeds a limit. Nothing lives in module
 * scope: the database is the only state.
 *
 * A refused job leaves nothing behind: its transaction is rolled back, so there is no execution
 * row, nothing was sent to ComfyUI and no aggregate (template_stats, campaign stats) moved.
 */
import type { Pool } from 'pg';

import { lockUserQuota, startExecution, type Execution, type StartExecutionInput, type UserQuotaUsage } from '../db/executions';
import { withTransaction } from '../db/pool';
import { QuotaError, ValidationError } from '../errors';
import type { GenerateRequest } from './input';

/** Retry-After of an in-flight refusal: a slot frees when one of the user's jobs finishes, typically within seconds. */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 5;

/** The limits a Generate request asks for; undefined means no limit. */
export interface UserLimits {
	maxJobsInFlightPerUser?: number;
	maxJobsPerDayPerUser?: number;
}

/** A request's quota, ready to enforce: the database that counts, the user counted, the limits. */
export interface UserQuota {
	db: Pool;
	userId: string;
	limits: UserLimits;
	/**
	 * How long an open run counts as in flight: the request's Timeout, the longest a job may take
	 * (queue and pool wait included). A row still open after that belongs to a worker that died or
	 * to a submit-only job nobody collected with Get Result.
	 */
	inFlightHorizonSeconds: number;
}

/**
 * The quota of a validated request, or undefined when it sets no limit. The input schema already
 * refused a limit without a user ID; a limit without the PromptLab database cannot be counted and
 * is refused here, before anything is prepared or sent.
 */
export function quotaOf(db: Pool | undefined, request: GenerateRequest): UserQuota | undefined {
	const limits: UserLimits = {};
	if (request.maxJobsInFlightPerUser !== undefined) limits.maxJobsInFlightPerUser = request.maxJobsInFlightPerUser;
	if (request.maxJobsPerDayPerUser !== undefined) limits.maxJobsPerDayPerUser = request.maxJobsPerDayPerUser;
	const field = (Object.keys(limits) as Array<keyof UserLimits>)[0];
	if (field === undefined || request.userId === undefined) return undefined;
	if (!db) {
		throw new ValidationError('invalid_input', 'Per-user job limits are counted in the PromptLab database, and none is configured', {
			field,
			hint: 'Add a PromptLab Postgres credential to the node, or set the limit to 0 (no limit).',
		});
	}
	return { db, userId: request.userId, limits, inFlightHorizonSeconds: Math.max(1, Math.ceil(request.timeout)) };
}

const jobs = (count: number) => `${count} job${count === 1 ? '' : 's'}`;

/** The refusal for a user's usage, if one of the limits is reached (the daily one first: retrying sooner cannot help). */
export function quotaRefusal(userId: string, limits: UserLimits, usage: UserQuotaUsage): QuotaError | undefined {
	const perDay = limits.maxJobsPerDayPerUser;
	if (perDay !== undefined && usage.usedToday >= perDay) {
		return new QuotaError('quota_exceeded', `User "${userId}" has reached the limit of ${jobs(perDay)} per day (UTC)`, {
			field: 'userId',
			hint: `Retry after midnight UTC, in ${usage.secondsToNextUtcDay} seconds.`,
			retryAfterSeconds: usage.secondsToNextUtcDay,
			details: { quota: 'jobsPerDay', limit: perDay, usedToday: usage.usedToday },
		});
	}
	const inFlight = limits.maxJobsInFlightPerUser;
	if (inFlight !== undefined && usage.inFlight >= inFlight) {
		return new QuotaError('quota_exceeded', `User "${userId}" has reached the limit of ${jobs(inFlight)} in flight`, {
			field: 'userId',
			hint: "Retry when one of the user's jobs has finished.",
			retryAfterSeconds: IN_FLIGHT_RETRY_AFTER_SECONDS,
			details: { quota: 'jobsInFlight', limit: inFlight, inFlight: usage.inFlight },
		});
	}
	return undefined;
}

/**
 * Starts the execution row of a job only if the user is within the limits, in one transaction with
 * the user's quota lock; over a limit → QuotaError quota_exceeded (429) and nothing is stored.
 * An n8n retry of a job admitted before (same execution id) is not counted again.
 */
export async function startWithinQuota(quota: UserQuota, input: StartExecutionInput): Promise<Execution> {
	return withTransaction(quota.db, async (client) => {
		const usage = await lockUserQuota(client, quota.userId, {
			executionId: input.id,
			inFlightHorizonSeconds: quota.inFlightHorizonSeconds,
			dailyCountCap: quota.limits.maxJobsPerDayPerUser ?? 0,
		});
		if (!usage.alreadyStarted) {
			const refusal = quotaRefusal(quota.userId, quota.limits, usage);
			if (refusal) throw refusal;
		}
		return startExecution(client, { ...input, userId: quota.userId });
	});
}
