export * from './inputs';
export * from './recommend';
export * from './refresh';
export type { RecommendFilters, SimilarityMethod, PopularityRanking } from '../db/recommendations';
