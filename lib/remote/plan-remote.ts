import type { LoadedConfig } from "../config/config.js";
import { learnSqlResources } from "../engines/olap/sql-resource-policy.js";
import { extractProjectChecked, planAgainst, type PlanReport } from "../project/plan-project.js";
import { fetchRemoteState, type FetchStateOptions, type RemoteState } from "./fetch-state.js";

export interface RemotePlan {
  readonly report: PlanReport;
  readonly remote: RemoteState;
}

/**
 * `moose plan --url`: the project's code against a running instance's state,
 * through the same planner as every other plan, so what it previews is what
 * `migrate generate` + `migrate deploy` would do there. The state is fetched
 * before the app is compiled, so a wrong URL or token fails in a moment.
 *
 * @example
 * const { report, remote } = await planRemote(config, "https://moose.example.com", { token });
 * renderPlanText(report.plan);
 */
export async function planRemote(config: LoadedConfig, url: string, options: FetchStateOptions = {}): Promise<RemotePlan> {
  const remote = await fetchRemoteState(url, options);
  // The instance's SQL resources: what their teardowns drop decides the risks.
  await learnSqlResources(remote.inframap);
  const report = planAgainst(await extractProjectChecked(config), remote.inframap, { kind: "remote", url: remote.url });
  return { report, remote };
}
