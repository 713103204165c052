// The simulator's public face (`understudy/simulator`): run a service of your own on the real
// protocol core, whole clusters in one process, under seeded faults, and check its own promise over
// the history. `npm run sim` runs the built-in key/value store the same way (main.ts).

export type { TestOnlyFaults } from '../protocol/test-only-faults.js';
export type { FaultKind } from './faults.js';
export {
  type ServiceSeedResult,
  type ServiceSimulation,
  type ServiceSimulationOptions,
  simulateService,
} from './service-simulation.js';
export type {
  RequestChooser,
  RequestContext,
  SimulatedOperation,
  SimulatedOutcome,
  SimulatedRequest,
  SimulationRandom,
} from './service-workload.js';
