import { CheckResponse_ServingStatus as WireStatus } from '../gen/mayu/agent/v1/agent.js';

export type ServingStatus = 'serving' | 'not-serving' | 'unknown';

export function servingStatusToWire(s: ServingStatus): WireStatus {
  switch (s) {
    case 'serving':
      return WireStatus.SERVING_STATUS_SERVING;
    case 'not-serving':
      return WireStatus.SERVING_STATUS_NOT_SERVING;
    case 'unknown':
      return WireStatus.SERVING_STATUS_UNSPECIFIED;
  }
}

/** Check's status: anything but SERVING or NOT_SERVING (an unknown or non-numeric value) is 'unknown'. */
export function servingStatusFromWire(s: WireStatus): ServingStatus {
  switch (s) {
    case WireStatus.SERVING_STATUS_SERVING:
      return 'serving';
    case WireStatus.SERVING_STATUS_NOT_SERVING:
      return 'not-serving';
    case WireStatus.SERVING_STATUS_UNSPECIFIED:
    case WireStatus.UNRECOGNIZED:
    default: // a number off the wire that is no member
      return 'unknown';
  }
}
