/**
 * The driver registry: every dialect, and the choice of one for a module.
 *
 *   identity (+CGMI/+CGMM/+CGMR/ATI, read with the generic driver)
 *     ──► forced id (config / --driver)?  that one
 *     ──► first vendor driver whose matches() says yes: Quectel, SIMCom, Wavecom, Huawei
 *     ──► generic 27.007, which fits everything and is tried last
 *
 * chooseDriver builds a fresh driver bound to the identity, so a vendor driver knows the
 * module's family (Quectel 2G or UMTS/LTE, SIMCom +CENG or +CPSI) without probing.
 */
import { GenericDriver } from './generic.js';
import { HuaweiDriver } from './huawei.js';
import { QuectelDriver } from './quectel.js';
import { SimcomDriver } from './simcom.js';
import type { DriverId, ModemDriver, ModuleIdentity } from './types.js';
import { WavecomDriver } from './wavecom.js';

const FACTORIES: Record<DriverId, (identity?: ModuleIdentity) => ModemDriver> = {
  quectel: (identity) => new QuectelDriver(identity),
  simcom: (identity) => new SimcomDriver(identity),
  wavecom: () => new WavecomDriver(),
  huawei: () => new HuaweiDriver(),
  generic: () => new GenericDriver(),
};

/** Vendor drivers in the order they are tried, then generic. */
export const DRIVER_IDS: readonly DriverId[] = ['quectel', 'simcom', 'wavecom', 'huawei', 'generic'];

/** One unbound instance of each driver, in trial order (for listings and matches()). */
export const DRIVERS: readonly ModemDriver[] = DRIVER_IDS.map((id) => FACTORIES[id]());

export function isDriverId(s: string): s is DriverId {
  return (DRIVER_IDS as readonly string[]).includes(s);
}

/** The driver for a module: the forced one, else the first that matches, else generic. */
export function chooseDriver(identity: ModuleIdentity, forced?: DriverId): ModemDriver {
  if (forced) return FACTORIES[forced](identity);
  const match = DRIVERS.find((d) => d.id !== 'generic' && d.matches(identity));
  return FACTORIES[match?.id ?? 'generic'](identity);
}
