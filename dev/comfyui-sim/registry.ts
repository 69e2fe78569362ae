/**
 * The simulator's node registry: a few real ComfyUI node classes with the input specs that
 * /object_info shows, the prompt validation of execution.py (validate_prompt / validate_inputs,
 * same error types, messages and quirks), and what each node does when it "runs".
 */
import { PyFloat, RawJson, pyRepr, pyStr, toNumber } from './pyjson';

export const MAX_RESOLUTION = 16384;

/** Python's KSampler.SAMPLERS (v0.3.64); more than 20, so value_not_in_list hides the list. */
export const SAMPLERS = [
	'euler', 'euler_cfg_pp', 'euler_ancestral', 'euler_ancestral_cfg_pp', 'heun', 'heunpp2', 'dpm_2', 'dpm_2_ancestral',
	'lms', 'dpm_fast', 'dpm_adaptive', 'dpmpp_2s_ancestral', 'dpmpp_2s_ancestral_cfg_pp', 'dpmpp_sde', 'dpmpp_sde_gpu',
	'dpmpp_2m', 'dpmpp_2m_cfg_pp', 'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'ddpm', 'lcm',
	'ipndm', 'ipndm_v', 'deis', 'res_multistep', 'res_multistep_cfg_pp', 'res_multistep_ancestral',
	'res_multistep_ancestral_cfg_pp', 'gradient_estimation', 'gradient_estimation_cfg_pp', 'er_sde', 'seeds_2', 'seeds_3',
	'sa_solver', 'sa_solver_pece', 'ddim', 'uni_pc', 'uni_pc_bh2',
];
export const SCHEDULERS = ['simple', 'sgm_uniform', 'karras', 'exponential', 'ddim_uniform', 'beta', 'normal', 'linear_quadratic', 'kl_optimal'];

/** An input spec as /object_info shows it: [type or combo list, options]. */
export type InputSpec = [string | unknown[], Record<string, unknown>] | [string | unknown[]];

export interface InputTypes {
	required: Record<string, InputSpec>;
	optional?: Record<string, InputSpec>;
	hidden?: Record<string, string>;
}

/** What the registry needs from the server to build dynamic input lists. */
export interface RegistryEnv {
	checkpoints(): string[];
	/** Top-level image files of the input directory (LoadImage's combo). */
	inputImages(): string[];
	/** folder_paths.exists_annotated_filepath */
	annotatedFileExists(name: string): boolean;
}

// Values flowing between simulated nodes.
export interface ModelValue { kind: 'model' | 'clip' | 'vae'; ckpt: string }
export interface ConditioningValue { kind: 'conditioning'; text: string }
export interface LatentValue { kind: 'latent'; width: number; height: number; batch: number; seed: number }
export interface ImageValue { kind: 'image'; width: number; height: number; batch: number; seed: number }
export interface VideoValue { kind: 'video'; width: number; height: number; frames: number; fps: number; seed: number }
export type SimValue = ModelValue | ConditioningValue | LatentValue | ImageValue | VideoValue | string | number | boolean | null | unknown;

export interface FileRef {
	filename: string;
	subfolder: string;
	type: 'output' | 'temp' | 'input';
	[key: string]: unknown;
}

export type UiOutput = Record<string, unknown[]>;

export interface NodeRunResult {
	outputs: SimValue[];
	ui?: UiOutput;
}

/** Services the executor gives a running node. */
export interface ExecContext {
	nodeId: string;
	classType: string;
	promptId: string;
	prompt: Record<string, unknown>;
	extraPngInfo: Record<string, unknown> | undefined;
	/** Spend the node's configured run time (no interrupt check, like a node without a progress bar). */
	work(): Promise<void>;
	/** A progress bar of `total` steps spread over the node's run time; interrupt is checked per step. */
	steps(total: number, preview?: { kind: 'latent' } | { kind: 'png'; image: ImageValue }): Promise<void>;
	/** Raise a Python-like exception inside the node. */
	fail(exceptionType: string, message: string): never;
	checkpointAvailableAtRun(name: string): boolean;
	saveImages(images: ImageValue, filenamePrefix: string, type: 'output' | 'temp', prefixAppend: string): Promise<FileRef[]>;
	saveGenerated(prefix: string, extension: string, sizeBytes: number, header: Buffer, trailingUnderscore: boolean): FileRef;
	outputSizeBytes(): number | undefined;
	readInputImageSize(annotatedName: string): { width: number; height: number } | null;
}

export interface NodeDef {
	name: string;
	displayName: string;
	description: string;
	category: string;
	pythonModule: string;
	outputNode: boolean;
	inputTypes(env: RegistryEnv): InputTypes;
	output: string[];
	outputName: string[];
	outputIsList?: boolean[];
	outputTooltips?: string[];
	/** Input names that VALIDATE_INPUTS takes: their type/range/combo checks are skipped. */
	validateInputsArgs?: string[];
	validateInputs?(inputs: Record<string, unknown>, env: RegistryEnv): true | false | string;
	/** IS_CHANGED: part of the cache key; NaN-like "always changed" is modelled with a fresh value. */
	isChanged?(inputs: Record<string, unknown>, env: RegistryEnv): string;
	run(inputs: Record<string, SimValue>, ctx: ExecContext): Promise<NodeRunResult>;
}

const f = (value: number) => new PyFloat(value);

function asImage(value: SimValue): ImageValue {
	return value as ImageValue;
}

const registryList: NodeDef[] = [
	{
		name: 'CheckpointLoaderSimple',
		displayName: 'Load Checkpoint',
		description: 'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.',
		category: 'loaders',
		pythonModule: 'nodes',
		outputNode: false,
		inputTypes: (env) => ({
			required: { ckpt_name: [env.checkpoints(), { tooltip: 'The name of the checkpoint (model) to load.' }] },
		}),
		output: ['MODEL', 'CLIP', 'VAE'],
		outputName: ['MODEL', 'CLIP', 'VAE'],
		outputTooltips: [
			'The model used for denoising latents.',
			'The CLIP model used for encoding text prompts.',
			'The VAE model used for encoding and decoding images to and from latent space.',
		],
		async run(inputs, ctx) {
			const ckpt = String(inputs.ckpt_name);
			await ctx.work();
			if (!ctx.checkpointAvailableAtRun(ckpt)) {
				ctx.fail('FileNotFoundError', `Model in folder 'checkpoints' with filename '${ckpt}' not found.`);
			}
			return { outputs: [{ kind: 'model', ckpt }, { kind: 'clip', ckpt }, { kind: 'vae', ckpt }] };
		},
	},
	{
		name: 'CLIPTextEncode',
		displayName: 'CLIP Text Encode (Prompt)',
		description: 'Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.',
		category: 'conditioning',
		pythonModule: 'nodes',
		outputNode: false,
		inputTypes: () => ({
			required: {
				text: ['STRING', { multiline: true, dynamicPrompts: true, tooltip: 'The text to be encoded.' }],
				clip: ['CLIP', { tooltip: 'The CLIP model used for encoding the text.' }],
			},
		}),
		output: ['CONDITIONING'],
		outputName: ['CONDITIONING'],
		outputTooltips: ['A conditioning containing the embedded text used to guide the diffusion model.'],
		async run(inputs, ctx) {
			await ctx.work();
			return { outputs: [{ kind: 'conditioning', text: String(inputs.text) }] };
		},
	},
	{
		name: 'EmptyLatentImage',
		displayName: 'Empty Latent Image',
		description: 'Create a new batch of empty latent images to be denoised via sampling.',
		category: 'latent',
		pythonModule: 'nodes',
		outputNode: false,
		inputTypes: () => ({
			required: {
				width: ['INT', { default: 512, min: 16, max: MAX_RESOLUTION, step: 8, tooltip: 'The width of the latent images in pixels.' }],
				height: ['INT', { default: 512, min: 16, max: MAX_RESOLUTION, step: 8, tooltip: 'The height of the latent images in pixels.' }],
				batch_size: ['INT', { default: 1, min: 1, max: 4096, tooltip: 'The number of latent images in the batch.' }],
			},
		}),
		output: ['LATENT'],
		outputName: ['LATENT'],
		outputTooltips: ['The empty latent image batch.'],
		async run(inputs, ctx) {
			await ctx.work();
			return {
				outputs: [{ kind: 'latent', width: toNumber(inputs.width), height: toNumber(inputs.height), batch: toNumber(inputs.batch_size), seed: 0 }],
			};
		},
	},
	{
		name: 'KSampler',
		displayName: 'KSampler',
		description: 'Uses the provided model, positive and negative conditioning to denoise the latent image.',
		category: 'sampling',
		pythonModule: 'nodes',
		outputNode: false,
		inputTypes: () => ({
			required: {
				model: ['MODEL', { tooltip: 'The model used for denoising the input latent.' }],
				seed: ['INT', { default: 0, min: 0, max: new RawJson('18446744073709551615'), control_after_generate: true, tooltip: 'The random seed used for creating the noise.' }],
				steps: ['INT', { default: 20, min: 1, max: 10000, tooltip: 'The number of steps used in the denoising process.' }],
				cfg: ['FLOAT', { default: f(8), min: f(0), max: f(100), step: 0.1, round: 0.01, tooltip: 'The Classifier-Free Guidance scale balances creativity and adherence to the prompt. Higher values result in images more closely matching the prompt however too high values will negatively impact quality.' }],
				sampler_name: [SAMPLERS, { tooltip: 'The algorithm used when sampling, this can affect the quality, speed, and style of the generated output.' }],
				scheduler: [SCHEDULERS, { tooltip: 'The scheduler controls how noise is gradually removed to form the image.' }],
				positive: ['CONDITIONING', { tooltip: 'The conditioning describing the attributes you want to include in the image.' }],
				negative: ['CONDITIONING', { tooltip: 'The conditioning describing the attributes you want to exclude from the image.' }],
				latent_image: ['LATENT', { tooltip: 'The latent image to denoise.' }],
				denoise: ['FLOAT', { default: f(1), min: f(0), max: f(1), step: 0.01, tooltip: 'The amount of denoising applied, lower values will maintain the structure of the initial image allowing for image to image sampling.' }],
			},
		}),
		output: ['LATENT'],
		outputName: ['LATENT'],
		outputTooltips: ['The denoised latent.'],
		async run(inputs, ctx) {
			const latent = inputs.latent_image as LatentValue;
			const steps = toNumber(inputs.steps);
			await ctx.steps(steps, { kind: 'latent' });
			return { outputs: [{ ...latent, seed: toNumber(inputs.seed) % 0x7fffffff }] };
		},
	},
	{
		name: 'VAEDecode',
		displayName: 'VAE Decode',
		description: 'Decodes latent images back into pixel space images.',
		category: 'latent',
		pythonModule: 'nodes',
		outputNode: false,
		inputTypes: () => ({
			required: {
				samples: ['LATENT', { tooltip: 'The latent to be decoded.' }],
				vae: ['VAE', { tooltip: 'The VAE model used for decoding the latent.' }],
			},
		}),
		output: ['IMAGE'],
		outputName: ['IMAGE'],
		outputTooltips: ['The decoded image.'],
		async run(inputs, ctx) {
			await ctx.work();
			const latent = inputs.samples as LatentValue;
			return { outputs: [{ kind: 'image', width: latent.width, height: latent.height, batch: latent.batch, seed: latent.seed }] };
		},
	},
	{
		name: 'SaveImage',
		displayName: 'Save Image',
		description: 'Saves the input images to your ComfyUI output directory.',
		category: 'image',
		pythonModule: 'nodes',
		outputNode: true,
		inputTypes: () => ({
			required: {
				images: ['IMAGE', { tooltip: 'The images to save.' }],
				filename_prefix: ['STRING', { default: 'ComfyUI', tooltip: 'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.' }],
			},
			hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
		}),
		output: [],
		outputName: [],
		async run(inputs, ctx) {
			await ctx.work();
			const images = await ctx.saveImages(asImage(inputs.images), String(inputs.filename_prefix), 'output', '');
			return { outputs: [], ui: { images } };
		},
	},
	{
		name: 'PreviewImage',
		displayName: 'Preview Image',
		description: 'Saves the input images to your ComfyUI output directory.',
		category: 'image',
		pythonModule: 'nodes',
		outputNode: true,
		inputTypes: () => ({
			required: { images: ['IMAGE'] },
			hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
		}),
		output: [],
		outputName: [],
		async run(inputs, ctx) {
			await ctx.work();
			// PreviewImage.__init__: "_temp_" + 5 letters drawn from this (oddly spelled) alphabet.
			const alphabet = 'abcdefghijklmnopqrstupvxyz';
			let suffix = '_temp_';
			for (let i = 0; i < 5; i++) suffix += alphabet[Math.floor(Math.random() * alphabet.length)];
			const images = await ctx.saveImages(asImage(inputs.images), 'ComfyUI', 'temp', suffix);
			return { outputs: [], ui: { images } };
		},
	},
	{
		name: 'LoadImage',
		displayName: 'Load Image',
		description: '',
		category: 'image',
		pythonModule: 'nodes',
		outputNode: false,
		inputTypes: (env) => ({ required: { image: [env.inputImages(), { image_upload: true }] } }),
		output: ['IMAGE', 'MASK'],
		outputName: ['IMAGE', 'MASK'],
		validateInputsArgs: ['image'],
		validateInputs(inputs, env) {
			const image = String(inputs.image);
			if (!env.annotatedFileExists(image)) return `Invalid image file: ${image}`;
			return true;
		},
		isChanged(inputs) {
			return `file:${String(inputs.image)}`;
		},
		async run(inputs, ctx) {
			await ctx.work();
			const size = ctx.readInputImageSize(String(inputs.image)) ?? { width: 512, height: 512 };
			return {
				outputs: [
					{ kind: 'image', width: size.width, height: size.height, batch: 1, seed: 1 },
					{ kind: 'mask', width: size.width, height: size.height },
				],
			};
		},
	},
	{
		name: 'SaveImageWebsocket',
		displayName: 'SaveImageWebsocket',
		description: '',
		category: 'api node/image/WebSocket',
		pythonModule: 'custom_nodes.websocket_image_save',
		outputNode: true,
		inputTypes: () => ({ required: { images: ['IMAGE'] } }),
		output: [],
		outputName: [],
		isChanged() {
			// IS_CHANGED returns time.time(): never cached.
			return `t:${process.hrtime.bigint()}`;
		},
		async run(inputs, ctx) {
			const images = asImage(inputs.images);
			await ctx.steps(images.batch, { kind: 'png', image: images });
			return { outputs: [], ui: undefined };
		},
	},
	{
		name: 'CreateVideo',
		displayName: 'Create Video',
		description: 'Create a video from images.',
		category: 'image/video',
		pythonModule: 'comfy_extras.nodes_video',
		outputNode: false,
		inputTypes: () => ({
			required: {
				images: ['IMAGE', { tooltip: 'The images to create a video from.' }],
				fps: ['FLOAT', { default: f(30), min: f(1), max: f(120), step: 1 }],
			},
			optional: { audio: ['AUDIO', { tooltip: 'The audio to add to the video.' }] },
		}),
		output: ['VIDEO'],
		outputName: ['VIDEO'],
		async run(inputs, ctx) {
			await ctx.work();
			const images = asImage(inputs.images);
			return { outputs: [{ kind: 'video', width: images.width, height: images.height, frames: images.batch, fps: toNumber(inputs.fps), seed: images.seed }] };
		},
	},
	{
		name: 'SaveVideo',
		displayName: 'Save Video',
		description: 'Saves the input images to your ComfyUI output directory.',
		category: 'image/video',
		pythonModule: 'comfy_extras.nodes_video',
		outputNode: true,
		inputTypes: () => ({
			required: {
				video: ['VIDEO', { tooltip: 'The video to save.' }],
				filename_prefix: ['STRING', { default: 'video/ComfyUI', tooltip: 'The prefix for the file to save. This may include formatting information such as %date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.' }],
				format: [['auto', 'mp4'], { default: 'auto', tooltip: 'The format to save the video as.' }],
				codec: [['auto', 'h264'], { default: 'auto', tooltip: 'The codec to use for the video.' }],
			},
			hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
		}),
		output: [],
		outputName: [],
		async run(inputs, ctx) {
			const video = inputs.video as VideoValue;
			await ctx.work();
			const size = ctx.outputSizeBytes() ?? 65536 + video.frames * 4096;
			const ref = ctx.saveGenerated(String(inputs.filename_prefix), 'mp4', size, MP4_HEADER, true);
			// ui.PreviewVideo: videos are listed under "images" with animated: [true].
			return { outputs: [], ui: { images: [ref], animated: [true] } };
		},
	},
	{
		name: 'VHS_VideoCombine',
		displayName: 'Video Combine 🎥🅥🅗🅢',
		description: '',
		category: 'Video Helper Suite 🎥🅥🅗🅢',
		pythonModule: 'custom_nodes.ComfyUI-VideoHelperSuite',
		outputNode: true,
		inputTypes: () => ({
			required: {
				images: ['IMAGE'],
				frame_rate: ['FLOAT', { default: f(8), min: f(1), step: 1 }],
				loop_count: ['INT', { default: 0, min: 0, max: 100, step: 1 }],
				filename_prefix: ['STRING', { default: 'AnimateDiff' }],
				format: [['image/gif', 'image/webp', 'video/h264-mp4', 'video/webm'], {}],
				pingpong: ['BOOLEAN', { default: false }],
				save_output: ['BOOLEAN', { default: true }],
			},
			optional: { audio: ['AUDIO'], meta_batch: ['VHS_BatchManager'], vae: ['VAE'] },
			hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO', unique_id: 'UNIQUE_ID' },
		}),
		output: ['VHS_FILENAMES'],
		outputName: ['Filenames'],
		async run(inputs, ctx) {
			const images = asImage(inputs.images);
			await ctx.steps(images.batch);
			const format = String(inputs.format);
			const extension = format.split('/')[1]?.split('-').pop() ?? 'mp4';
			const size = ctx.outputSizeBytes() ?? 65536 + images.batch * 4096;
			const header = extension === 'mp4' ? MP4_HEADER : Buffer.from(extension === 'gif' ? 'GIF89a' : extension === 'webm' ? '\x1aE\xdf\xa3' : 'RIFF\0\0\0\0WEBP', 'latin1');
			const ref = ctx.saveGenerated(String(inputs.filename_prefix), extension, size, header, false);
			const entry = {
				...ref,
				type: inputs.save_output === false ? 'temp' : 'output',
				format,
				frame_rate: toNumber(inputs.frame_rate),
				workflow: ref.filename.replace(/\.[^.]+$/, '.png'),
				fullpath: `/ComfyUI/${ref.type}/${ref.subfolder ? ref.subfolder + '/' : ''}${ref.filename}`,
			};
			return { outputs: [[true, [entry.fullpath]]], ui: { gifs: [entry] } };
		},
	},
	{
		name: 'PrimitiveString',
		displayName: 'String',
		description: '',
		category: 'utils/primitive',
		pythonModule: 'comfy_extras.nodes_primitive',
		outputNode: false,
		inputTypes: () => ({ required: { value: ['STRING', {}] } }),
		output: ['STRING'],
		outputName: ['STRING'],
		async run(inputs, ctx) {
			await ctx.work();
			return { outputs: [String(inputs.value)] };
		},
	},
	{
		name: 'PreviewAny',
		displayName: 'Preview Any',
		description: '',
		category: 'utils',
		pythonModule: 'comfy_extras.nodes_preview_any',
		outputNode: true,
		inputTypes: () => ({ required: { source: ['*', {}] } }),
		output: [],
		outputName: [],
		async run(inputs, ctx) {
			await ctx.work();
			const source = inputs.source;
			const text = typeof source === 'string' ? source : JSON.stringify(source);
			return { outputs: [], ui: { text: [text] } };
		},
	},
];

/** 'ftyp' box of an ISO MP4, so the fake video starts like a real one. */
const MP4_HEADER = Buffer.from('0000001c667479706973366d0000020069736f6d69736f326d703431', 'hex');

export const NODE_REGISTRY: ReadonlyMap<string, NodeDef> = new Map(registryList.map((def) => [def.name, def]));

/** One /object_info entry, shaped like server.py node_info(). */
export function nodeInfo(def: NodeDef, env: RegistryEnv): Record<string, unknown> {
	const types = def.inputTypes(env);
	const input: Record<string, unknown> = { required: types.required };
	if (types.optional) input.optional = types.optional;
	if (types.hidden) input.hidden = types.hidden;
	const inputOrder: Record<string, string[]> = { required: Object.keys(types.required) };
	if (types.optional) inputOrder.optional = Object.keys(types.optional);
	if (types.hidden) inputOrder.hidden = Object.keys(types.hidden);
	const info: Record<string, unknown> = {
		input,
		input_order: inputOrder,
		output: def.output,
		output_is_list: def.outputIsList ?? def.output.map(() => false),
		output_name: def.outputName,
		name: def.name,
		display_name: def.displayName,
		description: def.description,
		python_module: def.pythonModule,
		category: def.category,
		output_node: def.outputNode,
	};
	if (def.outputTooltips) info.output_tooltips = def.outputTooltips;
	return info;
}

// ---------------------------------------------------------------------------------------------
// Validation (execution.py validate_prompt / validate_inputs)

export interface ValidationError {
	type: string;
	message: string;
	details: string;
	extra_info: Record<string, unknown>;
}

export interface NodeErrorEntry {
	errors: ValidationError[];
	dependent_outputs: string[];
	class_type: string;
}

export type ValidationResult =
	| { ok: true; outputs: string[]; nodeErrors: Record<string, NodeErrorEntry> }
	| { ok: false; error: ValidationError; nodeErrors: Record<string, NodeErrorEntry> }
	/** Python raised outside the guarded code: the server answers 500. */
	| { ok: 'crash'; reason: string };

/** A Python exception raised while validating or running (type name as full_type_name prints it). */
export class PyException extends Error {
	constructor(readonly pyType: string, message: string) {
		super(message);
	}
}

function pyTypeName(value: unknown): string {
	if (value === null || value === undefined) return 'NoneType';
	if (Array.isArray(value)) return 'list';
	if (typeof value === 'object') return 'dict';
	if (typeof value === 'boolean') return 'bool';
	if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
	return 'str';
}

/** Python int(value). */
function pyInt(value: unknown): number {
	if (value instanceof PyFloat) return Math.trunc(value.value);
	if (typeof value === 'boolean') return value ? 1 : 0;
	if (typeof value === 'number') {
		if (!Number.isFinite(value)) throw new PyException(Number.isNaN(value) ? 'ValueError' : 'OverflowError', 'cannot convert float to integer');
		return Math.trunc(value);
	}
	if (typeof value === 'string') {
		const text = value.trim().replace(/_/g, '');
		if (/^[+-]?\d+$/.test(text)) return Number(text);
		throw new PyException('ValueError', `invalid literal for int() with base 10: ${pyRepr(value)}`);
	}
	throw new PyException('TypeError', `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(value)}'`);
}

/** Python float(value). */
function pyFloat(value: unknown): PyFloat {
	if (value instanceof PyFloat) return value;
	if (typeof value === 'boolean') return new PyFloat(value ? 1 : 0);
	if (typeof value === 'number') return new PyFloat(value);
	if (typeof value === 'string') {
		const text = value.trim().toLowerCase();
		if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(text)) return new PyFloat(Number(text));
		if (/^[+-]?(inf|infinity)$/.test(text)) return new PyFloat(text.startsWith('-') ? -Infinity : Infinity);
		if (/^[+-]?nan$/.test(text)) return new PyFloat(NaN);
		throw new PyException('ValueError', `could not convert string to float: ${pyRepr(value)}`);
	}
	throw new PyException('TypeError', `float() argument must be a string or a real number, not '${pyTypeName(value)}'`);
}

function pyTruthy(value: unknown): boolean {
	if (value instanceof PyFloat) return value.value !== 0;
	if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
	if (Array.isArray(value)) return value.length > 0;
	if (typeof value === 'object') return Object.keys(value).length > 0;
	return true;
}

function pyEquals(a: unknown, b: unknown): boolean {
	if (a instanceof PyFloat || b instanceof PyFloat || typeof a === 'number' || typeof b === 'number') {
		if ((typeof a === 'string') !== (typeof b === 'string')) return false;
		return toNumber(a) === toNumber(b);
	}
	return a === b;
}

function validateNodeInput(receivedType: unknown, inputType: unknown): boolean {
	if (receivedType === inputType) return true;
	if (typeof receivedType !== 'string' || typeof inputType !== 'string') return false;
	const received = new Set(receivedType.split(',').map((t) => t.trim()));
	const accepted = new Set(inputType.split(',').map((t) => t.trim()));
	if (received.has('*') || accepted.has('*')) return true;
	for (const t of received) if (!accepted.has(t)) return false;
	return true;
}

const FAKE_TRACEBACK = [
	'  File "/ComfyUI/execution.py", line 1133, in validate_prompt\n    m = await validate_inputs(prompt_id, prompt, o, validated)\n',
	'  File "/ComfyUI/execution.py", line 831, in validate_inputs\n    o_class_type = prompt[o_id][\'class_type\']\n',
];

type Validated = Map<string, [boolean, ValidationError[], string]>;

interface PromptNode {
	class_type: string;
	inputs: Record<string, unknown>;
}

function getNode(prompt: Record<string, unknown>, id: unknown): PromptNode {
	if (typeof id !== 'string' || !Object.prototype.hasOwnProperty.call(prompt, id)) {
		// A missing dict key: KeyError, whose str() is the repr of the key.
		throw new PyException('KeyError', pyRepr(id));
	}
	return prompt[id] as PromptNode;
}

function validateInputs(prompt: Record<string, unknown>, unique: string, validated: Validated, env: RegistryEnv): [boolean, ValidationError[], string] {
	const cached = validated.get(unique);
	if (cached) return cached;
	const node = getNode(prompt, unique);
	const inputs = (node.inputs ?? {}) as Record<string, unknown>;
	if (typeof node.inputs !== 'object' || node.inputs === null) node.inputs = inputs;
	const def = NODE_REGISTRY.get(node.class_type) as NodeDef;
	const types = def.inputTypes(env);
	const categories: Array<[string, InputSpec, 'required' | 'optional']> = [
		...Object.entries(types.required).map(([k, v]) => [k, v, 'required'] as [string, InputSpec, 'required']),
		...Object.entries(types.optional ?? {}).map(([k, v]) => [k, v, 'optional'] as [string, InputSpec, 'optional']),
	];
	const validateArgs = new Set(def.validateInputsArgs ?? []);
	const errors: ValidationError[] = [];
	let valid = true;
	let lastInfo: unknown = null;
	let lastVal: unknown = null;
	for (const [x, spec, category] of categories) {
		const inputType = spec[0];
		const extraInfo = spec[1] ?? {};
		const info = [inputType, extraInfo];
		if (!(x in inputs)) {
			if (category === 'required') {
				errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: x, extra_info: { input_name: x } });
			}
			continue;
		}
		let val = inputs[x];
		lastInfo = info;
		lastVal = val;
		if (Array.isArray(val)) {
			if (val.length !== 2) {
				errors.push({
					type: 'bad_linked_input',
					message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
					details: x,
					extra_info: { input_name: x, input_config: info, received_value: val },
				});
				continue;
			}
			const [oId, slot] = val as [unknown, unknown];
			const linked = getNode(prompt, oId);
			const returnTypes = (NODE_REGISTRY.get(linked.class_type) as NodeDef).output;
			if (typeof slot !== 'number' || !Number.isInteger(slot)) {
				throw new PyException('TypeError', `tuple indices must be integers or slices, not ${pyTypeName(slot)}`);
			}
			const index = slot < 0 ? returnTypes.length + slot : slot;
			if (index < 0 || index >= returnTypes.length) throw new PyException('IndexError', 'tuple index out of range');
			const receivedType = returnTypes[index];
			if (!validateNodeInput(receivedType, inputType)) {
				errors.push({
					type: 'return_type_mismatch',
					message: 'Return type mismatch between linked nodes',
					details: `${x}, received_type(${receivedType}) mismatch input_type(${pyStr(inputType)})`,
					extra_info: { input_name: x, input_config: info, received_type: receivedType, linked_node: val },
				});
				continue;
			}
			try {
				const r = validateInputs(prompt, oId as string, validated, env);
				if (r[0] === false) {
					valid = false;
					continue;
				}
			} catch (error) {
				const ex = error instanceof PyException ? error : new PyException('Exception', String(error));
				valid = false;
				validated.set(oId as string, [
					false,
					[{
						type: 'exception_during_inner_validation',
						message: 'Exception when validating inner node',
						details: ex.message,
						extra_info: { input_name: x, input_config: info, exception_message: ex.message, exception_type: ex.pyType, traceback: FAKE_TRACEBACK, linked_node: val },
					}],
					oId as string,
				]);
				continue;
			}
		} else {
			try {
				if (val !== null && typeof val === 'object' && !(val instanceof PyFloat) && '__value__' in (val as object)) {
					val = (val as { __value__: unknown }).__value__;
					inputs[x] = val;
				}
				if (inputType === 'INT') {
					val = pyInt(val);
					inputs[x] = val;
				}
				if (inputType === 'FLOAT') {
					val = pyFloat(val);
					inputs[x] = val;
				}
				if (inputType === 'STRING') {
					val = pyStr(val);
					inputs[x] = val;
				}
				if (inputType === 'BOOLEAN') {
					val = pyTruthy(val);
					inputs[x] = val;
				}
			} catch (error) {
				const ex = error instanceof PyException ? error : new PyException('Exception', String(error));
				errors.push({
					type: 'invalid_input_type',
					message: `Failed to convert an input value to a ${pyStr(inputType)} value`,
					details: `${x}, ${pyStr(val)}, ${ex.message}`,
					extra_info: { input_name: x, input_config: info, received_value: val, exception_message: ex.message },
				});
				continue;
			}
			lastVal = val;
			if (!validateArgs.has(x)) {
				const min = extraInfo.min;
				const max = extraInfo.max;
				const numeric = typeof val === 'number' || val instanceof PyFloat;
				if (min !== undefined && numeric && toNumber(val) < toNumber(min instanceof RawJson ? Number(min.text) : min)) {
					errors.push({
						type: 'value_smaller_than_min',
						message: `Value ${pyStr(val)} smaller than min of ${pyStr(min instanceof RawJson ? min.text : min)}`,
						details: x,
						extra_info: { input_name: x, input_config: info, received_value: val },
					});
					continue;
				}
				if (max !== undefined && numeric && toNumber(val) > toNumber(max instanceof RawJson ? Number(max.text) : max)) {
					errors.push({
						type: 'value_bigger_than_max',
						message: `Value ${pyStr(val)} bigger than max of ${pyStr(max instanceof RawJson ? max.text : max)}`,
						details: x,
						extra_info: { input_name: x, input_config: info, received_value: val },
					});
					continue;
				}
				const comboOptions = Array.isArray(inputType) ? inputType : inputType === 'COMBO' ? ((extraInfo.options as unknown[]) ?? []) : null;
				if (comboOptions && !comboOptions.some((option) => pyEquals(option, val))) {
					let inputConfig: unknown = info;
					let listInfo: string;
					if (comboOptions.length > 20) {
						listInfo = `(list of length ${comboOptions.length})`;
						inputConfig = null;
					} else {
						listInfo = pyStr(comboOptions);
					}
					errors.push({
						type: 'value_not_in_list',
						message: 'Value not in list',
						details: `${x}: '${pyStr(val)}' not in ${listInfo}`,
						extra_info: { input_name: x, input_config: inputConfig, received_value: val },
					});
					continue;
				}
			}
		}
	}
	if (def.validateInputs && def.validateInputsArgs) {
		const result = def.validateInputs(inputs, env);
		if (result !== true) {
			for (const x of def.validateInputsArgs) {
				errors.push({
					type: 'custom_validation_failed',
					message: 'Custom validation failed for node',
					details: result === false ? x : `${x} - ${result}`,
					extra_info: { input_name: x, input_config: lastInfo, received_value: lastVal },
				});
			}
		}
	}
	const ret: [boolean, ValidationError[], string] = errors.length > 0 || !valid ? [false, errors, unique] : [true, [], unique];
	validated.set(unique, ret);
	return ret;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * execution.validate_prompt: mutates the prompt in place (INT/FLOAT/STRING/BOOLEAN coercion, like
 * the real one), returns the output nodes to run or the error body parts.
 */
export function validatePrompt(prompt: unknown, partialTargets: unknown, env: RegistryEnv): ValidationResult {
	if (!isPlainObject(prompt)) return { ok: 'crash', reason: `prompt is a ${pyTypeName(prompt)}` };
	const outputs: string[] = [];
	for (const [x, node] of Object.entries(prompt)) {
		if (!isPlainObject(node)) return { ok: 'crash', reason: `node ${x} is not a dict` };
		if (!('class_type' in node)) {
			return {
				ok: false,
				error: { type: 'invalid_prompt', message: 'Cannot execute because a node is missing the class_type property.', details: `Node ID '#${x}'`, extra_info: {} },
				nodeErrors: {},
			};
		}
		const def = NODE_REGISTRY.get(String(node.class_type));
		if (!def) {
			return {
				ok: false,
				error: { type: 'invalid_prompt', message: `Cannot execute because node ${pyStr(node.class_type)} does not exist.`, details: `Node ID '#${x}'`, extra_info: {} },
				nodeErrors: {},
			};
		}
		if (def.outputNode) {
			const targets = partialTargets === undefined || partialTargets === null ? null : (partialTargets as unknown[]);
			if (targets === null || (Array.isArray(targets) && targets.includes(x))) outputs.push(x);
		}
	}
	if (outputs.length === 0) {
		return { ok: false, error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, nodeErrors: {} };
	}
	const goodOutputs: string[] = [];
	const failed: Array<[string, ValidationError[]]> = [];
	const nodeErrors: Record<string, NodeErrorEntry> = {};
	const validated: Validated = new Map();
	for (const o of outputs) {
		let valid = false;
		let reasons: ValidationError[] = [];
		try {
			const m = validateInputs(prompt, o, validated, env);
			valid = m[0];
			reasons = m[1];
		} catch (error) {
			const ex = error instanceof PyException ? error : new PyException('Exception', String(error));
			valid = false;
			reasons = [{ type: 'exception_during_validation', message: 'Exception when validating node', details: ex.message, extra_info: { exception_type: ex.pyType, traceback: FAKE_TRACEBACK } }];
			validated.set(o, [false, reasons, o]);
		}
		if (valid) {
			goodOutputs.push(o);
			continue;
		}
		// Only the output node's own reasons reach the top-level details (so a bad checkpoint
		// upstream gives details ""), while every failing node of the graph lands in node_errors.
		failed.push([o, reasons]);
		for (const [nodeId, result] of validated) {
			if (result[0] !== true && result[1].length > 0) {
				if (!nodeErrors[nodeId]) {
					nodeErrors[nodeId] = { errors: result[1], dependent_outputs: [], class_type: String((prompt[nodeId] as PromptNode).class_type) };
				}
				nodeErrors[nodeId].dependent_outputs.push(o);
			}
		}
	}
	if (goodOutputs.length === 0) {
		const lines = failed.flatMap(([, errors]) => errors.map((e) => `${e.message}: ${e.details}`));
		return {
			ok: false,
			error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: lines.join('\n'), extra_info: {} },
			nodeErrors,
		};
	}
	return { ok: true, outputs: goodOutputs, nodeErrors };
}
