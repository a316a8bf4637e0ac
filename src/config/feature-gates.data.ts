export const EMULATION_VERSION = "1.37";
export const MIN_COMPATIBILITY_VERSION = "1.36";
export const GATE_DATA = `KubeProxyIPVS:1-D LoggingAlphaOptions:0-A LoggingBetaOptions:1-B AllAlpha:0-A AllBeta:0-B`;
