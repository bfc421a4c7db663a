import { z } from 'zod';
import {
  BACKEND_PREFERENCES,
  BACKEND_NAMES,
  DTYPES,
  MODEL_SOURCES,
  ON_FAILURE_POLICIES,
  OPTIMIZER_NAMES,
  PLAN_PRESETS,
  SCHEDULE_KINDS,
  TENSOR_KINDS,
} from './names.js';

/** The zod enums of names.ts's lists; the types are inferred from them, never written by hand. */
export const ScheduleKindSchema = z.enum(SCHEDULE_KINDS);
export type ScheduleKind = z.infer<typeof ScheduleKindSchema>;

export const OnFailureSchema = z.enum(ON_FAILURE_POLICIES);
export type OnFailure = z.infer<typeof OnFailureSchema>;

export const OptimizerNameSchema = z.enum(OPTIMIZER_NAMES);
export type OptimizerName = z.infer<typeof OptimizerNameSchema>;

export const PlanPresetSchema = z.enum(PLAN_PRESETS);
export type PlanPreset = z.infer<typeof PlanPresetSchema>;

export const BackendNameSchema = z.enum(BACKEND_NAMES);
export type BackendName = z.infer<typeof BackendNameSchema>;

export const BackendPreferenceSchema = z.enum(BACKEND_PREFERENCES);
export type BackendPreference = z.infer<typeof BackendPreferenceSchema>;

export const DtypeSchema = z.enum(DTYPES);
export type Dtype = z.infer<typeof DtypeSchema>;

export const ModelSourceSchema = z.enum(MODEL_SOURCES);
export type ModelSource = z.infer<typeof ModelSourceSchema>;

export const TensorKindSchema = z.enum(TENSOR_KINDS);
export type TensorKind = z.infer<typeof TensorKindSchema>;
