import {
	describeNodeError,
	ensureApiWorkflow,
	extractOutputFiles,
	extractTextOutputs,
	mimeTypeFor,
	parseComfyServerConfig,
	settleFromHistory,
	withRunFilenamePrefix,
	type HistoryEntry,
} from '../lib/comfyui';
import { executionError, validationError, workflowClassTypes } from '../lib/comfyui/errors';
import { PromptLabError, ValidationError } from '../lib/errors';

function thrown(run: () => unknown): unknown {
	try {
		run();
	} catch (error) {
		return error;
	}
	throw new Error('nothing was thrown');
}

const txt2img = {
	'4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd15.safetensors' } },
	'5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
	'6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] } },
	'7': { class_type: 'CLIPTextEncode', inputs: { text: 'bad', clip: ['4', 1] } },
	'3': {
		class_type: 'KSampler',
		inputs: { seed: 5, steps: 20, cfg: 8, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] },
	},
	'8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
	'9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
};

describe('config', () => {
	it('fills defaults from a base URL alone and normalises it', () => {
		const config = parseComfyServerConfig({ baseUrl: 'http://127.0.0.1:8188/' });
		expect(config.baseUrl).toBe('http://127.0.0.1:8188');
		expect(config.auth).toEqual({ type: 'none' });
		expect(config.apiPrefix).toBe('/api');
		expect(config.allowSelfSigned).toBe(false);
		expect(parseComfyServerConfig({ baseUrl: 'comfy.local:8188' }).baseUrl).toBe('http://comfy.local:8188');
		expect(parseComfyServerConfig({ baseUrl: 'https://host/comfy/' }).baseUrl).toBe('https://host/comfy');
	});

	it('refuses credentials and queries in the URL, naming the field to use instead', () => {
		expect(() => parseComfyServerConfig({ baseUrl: 'http://u:p@host' })).toThrow(/Basic auth fields/);
		expect(() => parseComfyServerConfig({ baseUrl: 'http://host/?token=x' })).toThrow(/query-token auth/);
		expect(() => parseComfyServerConfig({ baseUrl: 'ftp://host' })).toThrow(/http:\/\/ or https:\/\//);
		expect(() => parseComfyServerConfig({ baseUrl: 'http://h', auth: { type: 'bearer', token: '' } })).toThrow(/auth.token: Bearer token is required/);
	});

	it('accepts every auth kind and drops an empty Comfy.org key', () => {
		for (const auth of [
			{ type: 'bearer', token: 't' },
			{ type: 'basic', username: 'u', password: 'p' },
			{ type: 'header', name: 'X-API-Key', value: 'k' },
			{ type: 'query', value: 'q' },
		]) {
			expect(parseComfyServerConfig({ baseUrl: 'http://h', auth }).auth.type).toBe(auth.type);
		}
		expect(parseComfyServerConfig({ baseUrl: 'http://h', auth: { type: 'query', value: 'q' } }).auth).toEqual({ type: 'query', name: 'token', value: 'q' });
		expect(parseComfyServerConfig({ baseUrl: 'http://h', comfyOrgApiKey: '  ' }).comfyOrgApiKey).toBeUndefined();
	});
});

describe('workflow checks', () => {
	it('turns the UI format into workflow_ui_format on field workflow, with export instructions', () => {
		const ui = { last_node_id: 9, last_link_id: 9, nodes: [{ id: 4, type: 'CheckpointLoaderSimple' }], links: [], version: 0.4 };
		const error = thrown(() => ensureApiWorkflow(ui));
		expect(error).toBeInstanceOf(ValidationError);
		expect(error).toMatchObject({ code: 'workflow_ui_format', field: 'workflow', httpStatus: 400, hint: expect.stringMatching(/Export \(API\)/) });
	});

	it('names the node of a malformed API workflow', () => {
		const error = thrown(() => ensureApiWorkflow({ '4': { class_type: 'CheckpointLoaderSimple', inputs: {} }, '5': { inputs: {} } }));
		expect(error).toMatchObject({ code: 'workflow_invalid', field: 'workflow', details: { nodeId: '5' }, message: expect.stringContaining('"5"') });
	});

	it('rewrites every literal filename_prefix into the run folder without touching the input', () => {
		const workflow = ensureApiWorkflow({
			...txt2img,
			'10': { class_type: 'SaveAudio', inputs: { filename_prefix: 'audio/ComfyUI', audio: ['11', 0] } },
			'11': { class_type: 'LoadAudio', inputs: { audio: 'a.wav' } },
			'12': { class_type: 'VHS_VideoCombine', inputs: { filename_prefix: ['13', 0], images: ['8', 0] } },
			'13': { class_type: 'PrimitiveString', inputs: { value: 'x' } },
			'14': { class_type: 'SaveImage', inputs: { filename_prefix: '../escape', images: ['8', 0] } },
		});
		const { workflow: rewritten, runFolder, rewrittenNodes } = withRunFilenamePrefix(workflow, 'abc');
		expect(runFolder).toBe('promptlab/abc');
		expect(rewritten['9'].inputs.filename_prefix).toBe('promptlab/abc/ComfyUI');
		expect(rewritten['10'].inputs.filename_prefix).toBe('promptlab/abc/audio/ComfyUI');
		expect(rewritten['12'].inputs.filename_prefix).toEqual(['13', 0]);
		expect(rewritten['14'].inputs.filename_prefix).toBe('promptlab/abc/_/escape');
		expect(rewrittenNodes.sort()).toEqual(['10', '14', '9']);
		expect(workflow['9'].inputs.filename_prefix).toBe('ComfyUI');
	});
});

describe('error mapping', () => {
	it('lists each node of a 400 with class type, input and message', () => {
		const body = {
			error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
			node_errors: {
				'4': {
					errors: [
						{
							type: 'value_not_in_list',
							message: 'Value not in list',
							details: "ckpt_name: 'missing.safetensors' not in ['sd15.safetensors']",
							extra_info: { input_name: 'ckpt_name', received_value: 'missing.safetensors' },
						},
					],
					dependent_outputs: ['9'],
					class_type: 'CheckpointLoaderSimple',
				},
				'5': {
					errors: [{ type: 'value_smaller_than_min', message: 'Value 4 smaller than min of 16', details: 'width', extra_info: { input_name: 'width' } }],
					dependent_outputs: ['9'],
					class_type: 'EmptyLatentImage',
				},
			},
		};
		const error = validationError(body, workflowClassTypes(txt2img), { server: 'http://s', promptId: 'p' });
		expect(error).toBeInstanceOf(PromptLabError);
		expect(error).toMatchObject({ code: 'comfyui_prompt_invalid', kind: 'validation', httpStatus: 400, upstreamStatus: 400 });
		expect(error.nodeErrors.map((e) => [e.nodeId, e.classType, e.inputName])).toEqual([
			['4', 'CheckpointLoaderSimple', 'ckpt_name'],
			['5', 'EmptyLatentImage', 'width'],
		]);
		// One line naming the first node; every node error rides along in details for error items.
		expect(error.message).toBe(
			`ComfyUI rejected the workflow: Prompt outputs failed validation: Node 4 (CheckpointLoaderSimple) input "ckpt_name": Value not in list: ckpt_name: 'missing.safetensors' not in ['sd15.safetensors'] (and 1 more)`,
		);
		expect(describeNodeError(error.nodeErrors[1])).toBe('Node 5 (EmptyLatentImage) input "width": Value 4 smaller than min of 16: width');
		expect(error.toJSON().details).toEqual({ server: 'http://s', promptId: 'p', nodeErrors: error.nodeErrors, upstreamStatus: 400 });
	});

	it("maps ComfyUI's 400 for a UI-format body to workflow_ui_format, like our own check", () => {
		// What validate_prompt answers when the body's prompt is an editor workflow whose first key is
		// "id" (a string, so `'class_type' not in prompt['id']` is a substring test).
		const body = {
			error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: "Node ID '#id'", extra_info: {} },
			node_errors: {},
		};
		const error = validationError(body, () => undefined, { server: 'http://s', promptId: 'p' });
		expect(error).toMatchObject({ code: 'workflow_ui_format', field: 'workflow', httpStatus: 400, hint: expect.stringMatching(/Export \(API\)/) });
		// A node of an API workflow without class_type stays a refusal naming that node.
		const missing = validationError({ ...body, error: { ...body.error, details: "Node ID '#12'" } }, () => undefined, {});
		expect(missing).toMatchObject({ code: 'comfyui_prompt_invalid', nodeErrors: [{ nodeId: '12' }] });
	});

	it('finds the node of invalid_prompt errors and reads old string errors', () => {
		const invalid = validationError(
			{ error: { type: 'invalid_prompt', message: 'Cannot execute because node Foo does not exist.', details: "Node ID '#7'" }, node_errors: {} },
			workflowClassTypes(txt2img),
			{},
		);
		expect(invalid.nodeErrors).toEqual([{ nodeId: '7', classType: 'CLIPTextEncode', message: 'Cannot execute because node Foo does not exist.' }]);
		const old = validationError({ error: 'no prompt', node_errors: [] }, () => undefined, {});
		expect(old.message).toMatch(/no prompt/);
	});

	it('names node and exception of an execution_error', () => {
		const error = executionError(
			{
				prompt_id: 'p',
				node_id: '4',
				node_type: 'CheckpointLoaderSimple',
				exception_type: 'FileNotFoundError',
				exception_message: "Model in folder 'checkpoints' with filename 'x.safetensors' not found.\n",
				traceback: ['  File "x", line 1\n'],
			},
			() => undefined,
			{ server: 'http://s', promptId: 'p' },
		);
		expect(error).toMatchObject({ code: 'comfyui_execution_failed', kind: 'upstream', httpStatus: 502, details: { server: 'http://s', promptId: 'p' } });
		expect(error.nodeErrors[0]).toMatchObject({ nodeId: '4', classType: 'CheckpointLoaderSimple', exceptionType: 'FileNotFoundError' });
		expect(error.message).toMatch(/^ComfyUI execution failed at node 4 \(CheckpointLoaderSimple\): FileNotFoundError: Model in folder/);
		expect(describeNodeError(error.nodeErrors[0])).toMatch(/^Node 4 \(CheckpointLoaderSimple\) raised FileNotFoundError: Model/);
	});
});

describe('history → result', () => {
	const entry: HistoryEntry = {
		prompt: [3, 'p1', {}, { client_id: 'c', create_time: 1000 }, ['9']],
		outputs: {
			'9': { images: [{ filename: 'ComfyUI_00001_.png', subfolder: 'promptlab/p1', type: 'output' }] },
			'12': { images: [{ filename: 'ComfyUI_temp_abcde_00001_.png', subfolder: '', type: 'temp' }] },
			'20': { images: [{ filename: 'clip_00001_.webm', subfolder: 'v', type: 'output' }], animated: [true] },
			'21': { gifs: [{ filename: 'anim_00001.mp4', subfolder: '', type: 'output', format: 'video/h264-mp4' }] },
			'22': { audio: [{ filename: 'voice_00001_.flac', subfolder: 'a', type: 'output' }] },
			'23': { text: ['hello'] },
			'24': { custom_key: [{ filename: 'mesh.glb', subfolder: '3d', type: 'output' }, 'not-a-file'] },
		},
		status: {
			status_str: 'success',
			completed: true,
			messages: [
				['execution_start', { prompt_id: 'p1', timestamp: 2000 }],
				['execution_cached', { prompt_id: 'p1', nodes: ['12'], timestamp: 2001 }],
				['execution_success', { prompt_id: 'p1', timestamp: 2500 }],
			],
		},
	};

	it('extracts every file with its kind, folder and mime type', () => {
		const files = extractOutputFiles(entry, { cachedNodes: ['12'] });
		expect(files.map((f) => [f.nodeId, f.kind, f.filename, f.type, f.mimeType, f.animated, f.cached])).toEqual([
			['9', 'images', 'ComfyUI_00001_.png', 'output', 'image/png', false, false],
			['12', 'images', 'ComfyUI_temp_abcde_00001_.png', 'temp', 'image/png', false, true],
			['20', 'images', 'clip_00001_.webm', 'output', 'video/webm', true, false],
			['21', 'gifs', 'anim_00001.mp4', 'output', 'video/mp4', false, false],
			['22', 'audio', 'voice_00001_.flac', 'output', 'audio/flac', false, false],
			['24', 'custom_key', 'mesh.glb', 'output', 'model/gltf-binary', false, false],
		]);
		expect(extractOutputFiles(entry, { types: ['output'] }).some((f) => f.type === 'temp')).toBe(false);
		expect(extractTextOutputs(entry)).toEqual({ '23': ['hello'] });
		expect(mimeTypeFor('X.JPEG')).toBe('image/jpeg');
		expect(mimeTypeFor('noext')).toBe('application/octet-stream');
	});

	it('succeeds only on status_str success, with timings and cached nodes from history', () => {
		const result = settleFromHistory(entry, { server: 's', promptId: 'p1', classTypeOf: () => undefined });
		expect(result.status).toBe('success');
		expect(result.timings).toEqual({ queuedAt: 1000, startedAt: 2000, finishedAt: 2500, durationMs: 500 });
		expect(result.cachedNodes).toEqual(['12']);
		expect(result.outputs).toHaveLength(6);
	});

	it('never turns an error or an incomplete entry into a success', () => {
		const failed: HistoryEntry = {
			outputs: { '9': { images: [{ filename: 'partial.png', subfolder: '', type: 'output' }] } },
			status: {
				status_str: 'error',
				completed: false,
				messages: [
					['execution_error', { prompt_id: 'p', node_id: '3', node_type: 'KSampler', exception_type: 'torch.OutOfMemoryError', exception_message: 'CUDA out of memory\n' }],
				],
			},
		};
		expect(thrown(() => settleFromHistory(failed, { server: 's', promptId: 'p', classTypeOf: () => undefined }))).toMatchObject({
			code: 'comfyui_execution_failed',
			message: expect.stringMatching(/node 3 \(KSampler\): torch.OutOfMemoryError: CUDA out of memory$/),
			hint: expect.stringMatching(/ran out of memory/),
		});
		const interrupted: HistoryEntry = {
			status: { status_str: 'error', completed: false, messages: [['execution_interrupted', { prompt_id: 'p', node_id: '3', node_type: 'KSampler' }]] },
		};
		expect(() => settleFromHistory(interrupted, { server: 's', promptId: 'p', classTypeOf: () => undefined })).toThrow(
			expect.objectContaining({ code: 'job_interrupted' }),
		);
		const noStatus: HistoryEntry = { outputs: { '9': { images: [{ filename: 'a.png' }] } } };
		expect(() => settleFromHistory(noStatus, { server: 's', promptId: 'p', classTypeOf: () => undefined })).toThrow(
			expect.objectContaining({ code: 'comfyui_bad_response' }),
		);
	});
});
