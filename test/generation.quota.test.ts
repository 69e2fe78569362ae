/**
 * Per-user generation quotas (lib/generation/quota.ts), through the Generate use case against the
 * ComfyUI simulator and a real Postgres. "Two workers" are two pg pools and two server pools in
 * this process, each admitting jobs through its own database connections, as two n8n queue-mode
 * workers would.
 */
import { randomUUID } from 'node:crypto';

import { Pool } from 'pg';

import { ComfyServerPool, closeAllComfyConnections } from '../lib/comfyui';
import { getPool } from '../lib/db/pool';
import { QuotaError, ValidationError } from '../lib/errors';
import {
	IN_FLIGHT_RETRY_AFTER_SECONDS,
	describeFiles,
	generate,
	type GenerateInput,
	type GenerationContext,
	type GenerationOutcome,
	type RecordedFile,
} from '../lib/generation';
import { startExecution } from '../lib/db/executions';
import { createTemplate } from '../lib/templates/manage';
import { startComfySim, txt2imgWorkflow, type ComfySim } from '../dev/comfyui-sim';
import { fastClientConfig } from './comfyui.fixtures';
import { createTestDatabase, type TestDatabase } from './support/database';

const TEMPLATE = 'quota-fox';
/** Long enough that every admission of a burst is decided while the accepted jobs still run. */
const SLOW_SAMPLER_MS = 1_500;

type Outcome = GenerationOutcome<RecordedFile>;

const describeOnly = { deliver: async (_client: unknown, files: Parameters<typeof describeFiles>[0]) => ({ files: describeFiles(files) }) };

/** Settles every run; a rejection comes back as the error (the tests count both kinds). */
function settle(runs: Array<Promise<Outcome>>): Promise<Array<Outcome | Error>> {
	return Promise.all(runs.map((run) => run.catch((error: Error) => error)));
}

function refusalOf(run: () => unknown): Promise<ValidationError> {
	return Promise.resolve()
		.then(run)
		.then(
			() => {
				throw new Error('the input was accepted');
			},
			(error: unknown) => {
				expect(error).toBeInstanceOf(ValidationError);
				return error as ValidationError;
			},
		);
}

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined && value !== false) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

/** Seconds from `now` to the next UTC midnight. */
function secondsToUtcMidnight(now = new Date()): number {
	const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
	return (midnight - now.getTime()) / 1000;
}

describe('per-user generation quotas', () => {
	let db: TestDatabase;
	let pool: Pool;
	let secondWorkerDb: Pool;
	let sims: ComfySim[];
	let workers: GenerationContext[];
	let seed = 1;

	beforeAll(async () => {
		db = await createTestDatabase();
		pool = await getPool(db.config);
		// Its own connections to the same database, as a second n8n worker process would have.
		secondWorkerDb = new Pool({ connectionString: db.url, max: 10, options: `-c search_path=${db.config.schema},public` });
		sims = await Promise.all([startComfySim({ nodeTimeMs: 1 }), startComfySim({ nodeTimeMs: 1 })]);
		const servers = () => new ComfyServerPool(sims.map((sim) => fastClientConfig(sim.url)));
		const signal = new AbortController().signal;
		workers = [
			{ comfy: servers(), db: pool, signal },
			{ comfy: servers(), db: secondWorkerDb, signal },
		];
		await createTemplate(pool, {
			name: TEMPLATE,
			kind: 'image',
			firstVersion: {
				positivePrompt: 'a {{animal}}',
				workflow: txt2imgWorkflow({ positive: '{{positive_prompt}}', steps: 4, width: 64, height: 64 }),
				variables: [{ name: 'animal', type: 'string' }],
			},
		});
	});

	afterEach(async () => {
		for (const sim of sims) sim.options.nodeTimes = {};
		await Promise.all(sims.map((sim) => sim.idle()));
	});

	afterAll(async () => {
		await closeAllComfyConnections();
		await Promise.all((sims ?? []).map((sim) => sim.stop()));
		await secondWorkerDb?.end();
		await db?.drop();
	});

	const submissions = () => sims.reduce((sum, sim) => sum + sim.submitted.length, 0);
	const slowSampler = () => sims.forEach((sim) => sim.setNodeTime('KSampler', SLOW_SAMPLER_MS));

	/** A template job for `userId` with a fresh fixed seed (so the simulator's cache never skips work). */
	function job(userId: string, extra: Partial<GenerateInput> = {}): GenerateInput {
		return {
			source: 'template',
			template: { name: TEMPLATE },
			values: { animal: 'fox' },
			overrides: { seed: seed++ },
			userId,
			timeout: 60,
			...extra,
		} as GenerateInput;
	}

	async function executionsOf(userId: string): Promise<Array<{ id: string; status: string }>> {
		const { rows } = await pool.query('SELECT id, status FROM executions WHERE user_id = $1 ORDER BY created_at', [userId]);
		return rows;
	}

	/** Until the user's first job is admitted (its execution row exists). */
	const admitted = (userId: string) => until(async () => (await executionsOf(userId)).length > 0, `a job of ${userId} to be admitted`);

	async function templateExecutions(): Promise<number> {
		const { rows } = await pool.query(
			'SELECT coalesce(sum(s.executions), 0)::int AS n FROM template_stats s JOIN templates t ON t.id = s.template_id WHERE t.name = $1',
			[TEMPLATE],
		);
		return rows[0].n;
	}

	test('20 parallel generations of one user on two workers with a limit of 5 in flight: exactly 5 run, 15 are refused with 429', async () => {
		slowSampler();
		const submittedBefore = submissions();
		const statsBefore = await templateExecutions();
		const results = await settle(
			Array.from({ length: 20 }, (_, n) => generate(workers[n % 2], job('burst-user', { maxJobsInFlightPerUser: 5 }), describeOnly)),
		);

		const accepted = results.filter((r): r is Outcome => !(r instanceof Error));
		const refused = results.filter((r): r is Error => r instanceof Error);
		expect(accepted).toHaveLength(5);
		expect(accepted.every((r) => r.status === 'succeeded' && r.files.length === 1)).toBe(true);
		expect(refused).toHaveLength(15);
		for (const error of refused) {
			expect(error).toBeInstanceOf(QuotaError);
			expect(error).toMatchObject({
				code: 'quota_exceeded',
				kind: 'quota',
				httpStatus: 429,
				field: 'userId',
				retryAfterSeconds: IN_FLIGHT_RETRY_AFTER_SECONDS,
				details: { quota: 'jobsInFlight', limit: 5, inFlight: 5, retryAfterSeconds: IN_FLIGHT_RETRY_AFTER_SECONDS },
			});
			// A refused job has no execution to look up.
			expect((error as QuotaError).details?.executionId).toBeUndefined();
		}
		// Nothing of the refused jobs reached ComfyUI or the database; the aggregates count the 5 runs.
		expect(submissions() - submittedBefore).toBe(5);
		const rows = await executionsOf('burst-user');
		expect(rows).toHaveLength(5);
		expect(rows.every((row) => row.status === 'succeeded')).toBe(true);
		expect(new Set(rows.map((row) => row.id))).toEqual(new Set(accepted.map((r) => r.summary.executionId)));
		expect((await templateExecutions()) - statsBefore).toBe(5);
	}, 60_000);

	test('finished jobs free their in-flight slots', async () => {
		slowSampler();
		const limit = { maxJobsInFlightPerUser: 1 };
		const first = generate(workers[0], job('slot-user', limit), describeOnly);
		await admitted('slot-user');
		// While the first job runs, the user's only slot is taken, on either worker.
		await expect(generate(workers[1], job('slot-user', limit), describeOnly)).rejects.toMatchObject({
			code: 'quota_exceeded',
			details: { limit: 1, inFlight: 1 },
		});
		expect(await first).toMatchObject({ status: 'succeeded' });
		sims.forEach((sim) => (sim.options.nodeTimes = {}));
		// The first job finished: the slot is free again.
		expect(await generate(workers[1], job('slot-user', limit), describeOnly)).toMatchObject({ status: 'succeeded' });
		// A failed job frees its slot too.
		sims[0].faults.executionErrorAtNode = '3';
		sims[1].faults.executionErrorAtNode = '3';
		try {
			await expect(generate(workers[0], job('slot-user', limit), describeOnly)).rejects.toMatchObject({ code: 'comfyui_execution_failed' });
		} finally {
			sims.forEach((sim) => (sim.faults = {}));
		}
		expect(await generate(workers[0], job('slot-user', limit), describeOnly)).toMatchObject({ status: 'succeeded' });
		expect((await executionsOf('slot-user')).map((row) => row.status)).toEqual(['succeeded', 'succeeded', 'failed', 'succeeded']);
	}, 60_000);

	test('a daily limit allows N jobs per UTC day, refuses the next until midnight UTC, and leaves other users alone', async () => {
		const daily = { maxJobsPerDayPerUser: 3 };
		for (let n = 0; n < 3; n++) {
			expect(await generate(workers[n % 2], job('daily-user', daily), describeOnly)).toMatchObject({ status: 'succeeded' });
		}
		const submittedBefore = submissions();
		const error = await generate(workers[1], job('daily-user', daily), describeOnly).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(QuotaError);
		expect(error).toMatchObject({
			code: 'quota_exceeded',
			httpStatus: 429,
			field: 'userId',
			details: { quota: 'jobsPerDay', limit: 3, usedToday: 3 },
		});
		const retryAfter = (error as QuotaError).retryAfterSeconds as number;
		expect(retryAfter).toBeGreaterThan(0);
		expect(retryAfter).toBeLessThanOrEqual(86_400);
		// The database's clock decides; it is this machine's, so it agrees within a few seconds.
		expect(Math.abs(retryAfter - secondsToUtcMidnight())).toBeLessThan(5);
		expect(submissions()).toBe(submittedBefore);
		expect(await executionsOf('daily-user')).toHaveLength(3);

		// Another user has a day of their own.
		expect(await generate(workers[0], job('other-user', daily), describeOnly)).toMatchObject({ status: 'succeeded' });
		// Without a limit the same user is not counted at all.
		expect(await generate(workers[0], job('daily-user'), describeOnly)).toMatchObject({ status: 'succeeded' });

		// Yesterday's jobs do not count against today.
		await pool.query("UPDATE executions SET created_at = created_at - interval '1 day' WHERE user_id = 'daily-user'");
		expect(await generate(workers[1], job('daily-user', daily), describeOnly)).toMatchObject({ status: 'succeeded' });
	}, 60_000);

	test('both limits together: the daily one is reported first, since retrying in 5 seconds would not help', async () => {
		const limits = { maxJobsPerDayPerUser: 1, maxJobsInFlightPerUser: 1 };
		slowSampler();
		const first = generate(workers[0], job('both-user', limits), describeOnly);
		await admitted('both-user');
		await expect(generate(workers[1], job('both-user', limits), describeOnly)).rejects.toMatchObject({
			code: 'quota_exceeded',
			details: { quota: 'jobsPerDay', limit: 1, usedToday: 1 },
		});
		await first;
	}, 30_000);

	test('a re-run of an admitted job (same execution ID) is not refused; a new job is', async () => {
		const limit = { maxJobsInFlightPerUser: 1, waitForCompletion: false };
		const executionId = randomUUID();
		slowSampler();
		const submitted = await generate(workers[0], job('rerun-user', { ...limit, executionId }), describeOnly);
		expect(submitted).toMatchObject({ status: 'submitted', summary: { executionId } });
		// n8n retries the item: the job is found (on the server and in the database) and not counted twice.
		const retried = await generate(workers[1], job('rerun-user', { ...limit, executionId }), describeOnly);
		expect(retried).toMatchObject({ status: 'submitted', summary: { executionId } });
		await expect(generate(workers[1], job('rerun-user', limit), describeOnly)).rejects.toMatchObject({ code: 'quota_exceeded' });
		expect(await executionsOf('rerun-user')).toEqual([{ id: executionId, status: 'running' }]);

		// An attempt that stored its row and died before submitting: the retry is admitted (its own
		// row is what fills the slot) and submits the job now.
		const orphanId = randomUUID();
		await startExecution(pool, { id: orphanId, source: 'comfyui', userId: 'orphan-user' });
		const submittedBefore = submissions();
		expect(await generate(workers[1], job('orphan-user', { ...limit, executionId: orphanId }), describeOnly)).toMatchObject({
			status: 'submitted',
			summary: { executionId: orphanId },
		});
		expect(submissions() - submittedBefore).toBe(1);
		expect(await executionsOf('orphan-user')).toEqual([{ id: orphanId, status: 'running' }]);
	}, 30_000);

	test('an open run older than the Timeout no longer holds a slot (a worker died, or nobody collected a submit-only job)', async () => {
		const limit = { maxJobsInFlightPerUser: 1, waitForCompletion: false };
		await generate(workers[0], job('stale-user', limit), describeOnly);
		await expect(generate(workers[0], job('stale-user', limit), describeOnly)).rejects.toMatchObject({ code: 'quota_exceeded' });
		await pool.query("UPDATE executions SET created_at = now() - interval '61 seconds' WHERE user_id = 'stale-user'");
		// timeout: 60 (job()): the open run is past the longest time a job may take.
		expect(await generate(workers[0], job('stale-user', limit), describeOnly)).toMatchObject({ status: 'submitted' });
	}, 30_000);

	test('a limit needs a user ID and the PromptLab database; 0 means no limit; anything else is refused with the field named', async () => {
		const noDb: GenerationContext = { comfy: workers[0].comfy, signal: new AbortController().signal };
		const raw = { source: 'workflow' as const, workflow: txt2imgWorkflow({ width: 64, height: 64 }) };
		const submittedBefore = submissions();

		expect(await refusalOf(() => generate(workers[0], { ...raw, maxJobsInFlightPerUser: 2 }, describeOnly))).toMatchObject({
			code: 'field_required',
			field: 'userId',
		});
		expect(await refusalOf(() => generate(workers[0], { ...raw, userId: '  ', maxJobsPerDayPerUser: '10' }, describeOnly))).toMatchObject({
			code: 'field_required',
			field: 'userId',
		});
		expect(await refusalOf(() => generate(noDb, { ...raw, userId: 'u1', maxJobsPerDayPerUser: 10 }, describeOnly))).toMatchObject({
			code: 'invalid_input',
			field: 'maxJobsPerDayPerUser',
		});
		expect(await refusalOf(() => generate(noDb, { ...raw, userId: 'u1', maxJobsInFlightPerUser: -1 }, describeOnly))).toMatchObject({
			code: 'invalid_input',
			field: 'maxJobsInFlightPerUser',
		});
		expect(await refusalOf(() => generate(noDb, { ...raw, userId: 'u1', maxJobsInFlightPerUser: 1.5 }, describeOnly))).toMatchObject({
			code: 'invalid_input',
			field: 'maxJobsInFlightPerUser',
		});
		expect(submissions()).toBe(submittedBefore);

		// 0 and empty are "no limit": no user ID or database needed.
		expect(await generate(noDb, { ...raw, maxJobsInFlightPerUser: 0, maxJobsPerDayPerUser: '' }, describeOnly)).toMatchObject({
			status: 'succeeded',
			summary: { recorded: false },
		});
	}, 30_000);
});
