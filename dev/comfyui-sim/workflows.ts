/** Ready-made API-format workflows for tests (fresh copies each call: validation mutates prompts). */

/** The default txt2img graph of script_examples/basic_api_example.py, with the simulator's first checkpoint. */
export function txt2imgWorkflow(overrides: {
	ckptName?: string;
	width?: number;
	height?: number;
	batchSize?: number;
	seed?: number;
	steps?: number;
	positive?: string;
	filenamePrefix?: string;
} = {}): Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title: string } }> {
	return {
		'4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: overrides.ckptName ?? 'v1-5-pruned-emaonly.safetensors' }, _meta: { title: 'Load Checkpoint' } },
		'5': { class_type: 'EmptyLatentImage', inputs: { width: overrides.width ?? 512, height: overrides.height ?? 512, batch_size: overrides.batchSize ?? 1 }, _meta: { title: 'Empty Latent Image' } },
		'6': { class_type: 'CLIPTextEncode', inputs: { text: overrides.positive ?? 'masterpiece best quality man', clip: ['4', 1] }, _meta: { title: 'CLIP Text Encode (Prompt)' } },
		'7': { class_type: 'CLIPTextEncode', inputs: { text: 'bad hands', clip: ['4', 1] }, _meta: { title: 'CLIP Text Encode (Prompt)' } },
		'3': {
			class_type: 'KSampler',
			inputs: {
				seed: overrides.seed ?? 5,
				steps: overrides.steps ?? 20,
				cfg: 8,
				sampler_name: 'euler',
				scheduler: 'normal',
				denoise: 1,
				model: ['4', 0],
				positive: ['6', 0],
				negative: ['7', 0],
				latent_image: ['5', 0],
			},
			_meta: { title: 'KSampler' },
		},
		'8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] }, _meta: { title: 'VAE Decode' } },
		'9': { class_type: 'SaveImage', inputs: { filename_prefix: overrides.filenamePrefix ?? 'ComfyUI', images: ['8', 0] }, _meta: { title: 'Save Image' } },
	};
}

/** txt2img plus a video branch: CreateVideo → SaveVideo (node "11"); set faults.outputSizeBytes for a big file. */
export function videoWorkflow(overrides: { frames?: number; filenamePrefix?: string; seed?: number } = {}): ReturnType<typeof txt2imgWorkflow> {
	const graph = txt2imgWorkflow({ batchSize: overrides.frames ?? 4, width: 64, height: 64, steps: 2, seed: overrides.seed });
	delete (graph as Record<string, unknown>)['9'];
	graph['10'] = { class_type: 'CreateVideo', inputs: { images: ['8', 0], fps: 24 } };
	graph['11'] = { class_type: 'SaveVideo', inputs: { video: ['10', 0], filename_prefix: overrides.filenamePrefix ?? 'video/ComfyUI', format: 'auto', codec: 'auto' } };
	return graph;
}

/** A text-only graph: PrimitiveString → PreviewAny (history outputs { text: [...] }). */
export function textWorkflow(text = 'hello'): ReturnType<typeof txt2imgWorkflow> {
	return {
		'1': { class_type: 'PrimitiveString', inputs: { value: text } },
		'2': { class_type: 'PreviewAny', inputs: { source: ['1', 0] } },
	};
}
