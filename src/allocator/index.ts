/** The allocator: pure claim rules shared by the store, the API and every runner. */
export type * from './types.js';
export { capacityFromPooled, capacityFromNodes, MAX_NODES, type PooledCapacityInput, type NodesCapacityInput, type NodeInput } from './capacity.js';
export { eligibleClasses, bindingPreference, withinTimeLimit, fitsCapacity, worthClaiming, explainNoneEligible, type EligibleClass } from './eligibility.js';
export { fetchBudget, maxJobsOn } from './budget.js';
export { decideClaim, decideQueueDepth, placeClaimed } from './claim.js';
export { servableCounts, type RunnerShape } from './servable.js';
export { decideFailure, matchRule, raisedNeed, type FailureDecision, type RaisableNeed, type RaiseCaps, type RaisedNeed } from './failure-policy.js';
export { decideClaimPooled } from './pooled.js';
export { NodeLedger, type Reservation, type NodeShare } from './ledger.js';
export { fitsOn, copiesOn, isMultiNode, formatResources, formatBytes, GIB, MIB, type FreeResources } from './fit.js';
export { compareNeeds, claimComparator } from './order.js';
export { SORT_METHODS, isSortMethod, checkLimit, checkClaimOptions } from './options.js';
export { diagnoseFailure, type AttemptEvidence, type Diagnosis, type DiagnosisReason, type FailureDiagnosis } from './diagnosis.js';
export { planRecovery, recoveryOptionIssues, DEFAULT_RECOVERY, type FailedJob, type RecoveryOptions, type RecoveryStep } from './recovery.js';
export { suggestRequirements, underUse, percentile, roundMemoryUp, DEFAULT_SIZING, type ClassUsage, type SizingPolicy, type Suggestion, type UnderUse } from './right-size.js';
