export * from './log-execution';
export * from './record';
export * from './stats';
export type { Feedback, Rating, TemplateStats } from '../db/feedback';
