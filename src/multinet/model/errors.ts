// The one error type of multi-network: a CNI error (spec code) that names the object and the field.
// Every malformed annotation, NAD or request becomes exactly one of these; the CNI server answers it
// as the error JSON, the agent posts it as a Warning Event on the Pod.
import { CniError, ErrInvalidNetworkConfig } from '../../cniproto/errors.ts';

export { CniError };
/** bad env (CNI_ARGS without the pod, say) */
export const ErrBadEnv = 4;
/** bad annotation or NAD, isolation violated, duplicate interface, ips/mac not honoured, unsupported key */
export const ErrBadInput = ErrInvalidNetworkConfig;
/** transient: pod lookup, NAD missing, informers not synced, agent down */
export const ErrTransient = 11;
export const ErrNotReady = 50;

export class MultinetError extends CniError {
  /** e.g. `Pod default/test-pod2`, `NetworkAttachmentDefinition default/test-network` */
  readonly object: string;
  /** e.g. `metadata.annotations["k8s.v1.cni.cncf.io/networks"][0].interface` */
  readonly field: string;
  readonly reason: string;
  constructor(code: number, object: string, field: string, reason: string) {
    super(code, `${object}: ${field}: ${reason}`);
    this.name = 'MultinetError';
    this.object = object;
    this.field = field;
    this.reason = reason;
  }
}

export function invalid(object: string, field: string, reason: string, code: number = ErrBadInput): never {
  throw new MultinetError(code, object, field, reason);
}
