/**
 * The k8s/ manifests as kustomize assembles them (the files kustomization.yaml lists), with the few
 * Kubernetes semantics the checks need: label selectors, a container's environment as the kubelet
 * builds it, resource quantities.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT, readRepoFile } from './app-entries';

export const K8S_DIR = 'k8s';

type Labels = Readonly<Record<string, string>>;

export interface Metadata {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
}

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Metadata;
  /** The k8s/ file it came from. */
  readonly file: string;
}

interface KeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly configMapKeyRef?: KeyRef; readonly secretKeyRef?: KeyRef; readonly fieldRef?: unknown; readonly resourceFieldRef?: unknown };
}

export interface EnvFromSource {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name: string; readonly optional?: boolean };
  readonly secretRef?: { readonly name: string; readonly optional?: boolean };
}

export interface Probe {
  readonly httpGet?: { readonly path?: string; readonly port: number | string; readonly scheme?: string };
  readonly tcpSocket?: unknown;
  readonly exec?: unknown;
  readonly grpc?: unknown;
}

export interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly allowPrivilegeEscalation?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly privileged?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly EnvFromSource[];
  readonly startupProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly resources?: { readonly requests?: Labels; readonly limits?: Labels };
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

export interface PodSpec {
  readonly containers: readonly Container[];
  readonly volumes?: readonly { readonly name: string; readonly emptyDir?: unknown }[];
  readonly securityContext?: SecurityContext;
}

export interface Deployment extends K8sObject {
  readonly spec: {
    readonly replicas?: number;
    readonly selector: { readonly matchLabels?: Labels; readonly matchExpressions?: readonly unknown[] };
    readonly template: { readonly metadata: { readonly labels?: Labels; readonly annotations?: Labels }; readonly spec: PodSpec };
  };
}

export interface Service extends K8sObject {
  readonly spec: { readonly selector?: Labels; readonly ports: readonly { readonly name?: string; readonly port: number; readonly targetPort?: number | string }[] };
}

export interface PodDisruptionBudget extends K8sObject {
  readonly spec: { readonly selector: { readonly matchLabels?: Labels }; readonly minAvailable?: number | string; readonly maxUnavailable?: number | string };
}

interface ScaleTargetRef {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name: string;
  readonly envSourceContainerName?: string;
}

export interface HorizontalPodAutoscaler extends K8sObject {
  readonly spec: {
    readonly scaleTargetRef: ScaleTargetRef;
    readonly minReplicas?: number;
    readonly maxReplicas: number;
    readonly metrics?: readonly { readonly type: string; readonly resource?: { readonly name: string } }[];
  };
}

export interface ScaledObject extends K8sObject {
  readonly spec: {
    readonly scaleTargetRef: ScaleTargetRef;
    readonly minReplicaCount?: number;
    readonly maxReplicaCount?: number;
    readonly triggers: readonly { readonly type: string; readonly metadata: Labels }[];
  };
}

export interface ConfigMap extends K8sObject {
  readonly data?: Labels;
}

export interface Secret extends K8sObject {
  readonly data?: Labels;
  readonly stringData?: Labels;
}

export interface Kustomization {
  readonly namespace?: string;
  readonly resources?: readonly string[];
  readonly images?: readonly { readonly name: string; readonly newName?: string; readonly newTag?: string }[];
}

export interface Manifests {
  readonly kustomization: Kustomization;
  readonly objects: readonly K8sObject[];
}

export function loadManifests(): Manifests {
  const kustomization = parse(readRepoFile(`${K8S_DIR}/kustomization.yaml`)) as Kustomization;
  const objects: K8sObject[] = [];
  for (const file of kustomization.resources ?? []) {
    for (const document of parseAllDocuments(readRepoFile(`${K8S_DIR}/${file}`))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
      const object: unknown = document.toJS();
      if (object === null) continue;
      objects.push({ ...(object as Omit<K8sObject, 'file'>), file });
    }
  }
  return { kustomization, objects };
}

/** Manifest files in k8s/ (YAML, the kustomization itself excepted). */
export function manifestFiles(): string[] {
  return readdirSync(join(ROOT, K8S_DIR))
    .filter((file) => /\.ya?ml$/.test(file) && !/^kustomization\.ya?ml$/.test(file))
    .sort();
}

export function ofKind<T extends K8sObject>(manifests: Manifests, kind: string): T[] {
  return manifests.objects.filter((object) => object.kind === kind) as T[];
}

export function named<T extends K8sObject>(manifests: Manifests, kind: string, name: string): T {
  const found = ofKind<T>(manifests, kind).find((object) => object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in ${K8S_DIR}/`);
  return found;
}

/** Whether a matchLabels selector selects objects with these labels (an empty one selects all). */
export function selects(matchLabels: Labels | undefined, labels: Labels | undefined): boolean {
  return Object.entries(matchLabels ?? {}).every(([key, value]) => labels?.[key] === value);
}

/** The Deployments whose pods a selector selects. */
export function selectedDeployments(manifests: Manifests, matchLabels: Labels | undefined): Deployment[] {
  return ofKind<Deployment>(manifests, 'Deployment').filter((deployment) => selects(matchLabels, deployment.spec.template.metadata.labels));
}

function configMapData(manifests: Manifests, name: string): Labels {
  return named<ConfigMap>(manifests, 'ConfigMap', name).data ?? {};
}

function secretData(manifests: Manifests, name: string): Labels {
  const secret = named<Secret>(manifests, 'Secret', name);
  const decoded = Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  // stringData is merged over data by the API server.
  return { ...decoded, ...(secret.stringData ?? {}) };
}

/**
 * A container's environment as the kubelet builds it: the image's ENV, then envFrom sources in
 * order (a later source wins), then env entries (they win over envFrom). Missing ConfigMaps,
 * Secrets or keys throw unless marked optional.
 */
export function containerEnv(manifests: Manifests, container: Container, imageEnv: Labels): Record<string, string> {
  const env: Record<string, string> = { ...imageEnv };
  for (const source of container.envFrom ?? []) {
    const reference = source.configMapRef ?? source.secretRef;
    if (!reference) continue;
    let data: Labels;
    try {
      data = source.configMapRef ? configMapData(manifests, reference.name) : secretData(manifests, reference.name);
    } catch (error) {
      if (reference.optional) continue;
      throw error;
    }
    for (const [key, value] of Object.entries(data)) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = variable.value;
      continue;
    }
    const configMapRef = variable.valueFrom?.configMapKeyRef;
    const secretRef = variable.valueFrom?.secretKeyRef;
    const reference = configMapRef ?? secretRef;
    if (!reference) continue;
    const data = configMapRef ? configMapData(manifests, reference.name) : secretData(manifests, reference.name);
    const value = data[reference.key];
    if (value === undefined && !reference.optional) throw new Error(`${container.name}: ${variable.name} refers to missing key ${reference.key} of ${reference.name}`);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

/** CPU in cores ("250m", "1", "0.5") or memory in bytes ("256Mi", "1Gi", "500M"). */
export function quantity(value: string | number): number {
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(value));
  if (!match) throw new Error(`not a quantity: ${value}`);
  const units: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  const unit = units[match[2]];
  if (unit === undefined) throw new Error(`unknown quantity unit in ${value}`);
  return Number(match[1]) * unit;
}

/** The port number a probe or a Service's targetPort means: a number, or a container port's name. */
export function containerPort(container: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}
