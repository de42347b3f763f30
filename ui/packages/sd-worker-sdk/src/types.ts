// The worker's request, response and event shapes, named: aliases of the types generated from its
// OpenAPI document (generated/openapi.ts, `npm run gen:types`), so nothing here restates a field.
import type { components, paths } from './generated/openapi';

type Schemas = components['schemas'];

export type JobRequest = Schemas['JobRequest'];
export type ImageGenerationRequest = Schemas['ImageGenerationRequest'];
export type ImageTransformRequest = Schemas['ImageTransformRequest'];
export type ImageInpaintRequest = Schemas['ImageInpaintRequest'];
export type JobOptions = Schemas['JobOptions'];
export type Operation = JobRequest['operation'];
export type SchedulerName = Schemas['SchedulerName'];
export type Seed = Schemas['Seed'];

export type JobAccepted = Schemas['JobAccepted'];
export type JobStatus = Schemas['JobStatus'];
export type JobState = Schemas['JobState'];
export type JobCancelled = Schemas['JobCancelled'];

export type JobEvent = Schemas['JobEvent'];
export type ProgressEvent = Schemas['ProgressEvent'];
export type PreviewEvent = Schemas['PreviewEvent'];
export type CompleteEvent = Schemas['CompleteEvent'];
export type ErrorEvent = Schemas['ErrorEvent'];
export type NarrationEvent = Schemas['NarrationEvent'];

export type ErrorResponse = Schemas['ErrorResponse'];
export type ApiErrorBody = Schemas['ApiError'];
export type Health = Schemas['Health'];
export type Readiness = Schemas['Readiness'];
export type WorkerInfo = Schemas['WorkerInfo'];
export type ModelList = Schemas['ModelList'];
export type ServedModel = Schemas['ServedModel'];

// LoRAs in a request: present when the worker's document has the field.
export type LoraRequest = Schemas extends { LoraRequest: infer L } ? L : never;

// GET /v1/loras's body when the document has that route, else unknown (the client then reads
// what it finds; see client.loras()).
export type LoraListResponse = paths extends {
  '/v1/loras': { get: { responses: { 200: { content: { 'application/json': infer T } } } } };
}
  ? T
  : unknown;

// The request of one operation, and its parameters: the request less the fields the client fills
// in (the operation from the method, hive_id and model from its options).
export type RequestOf<O extends Operation> = Extract<JobRequest, { operation: O }>;
export type ParamsOf<O extends Operation> = Omit<RequestOf<O>, 'operation' | 'hive_id' | 'model'> & { hive_id?: string; model?: string };
export type TextToImageParams = ParamsOf<'image_generation'>;
export type ImageToImageParams = ParamsOf<'image_transform'>;
export type InpaintParams = ParamsOf<'image_inpaint'>;
