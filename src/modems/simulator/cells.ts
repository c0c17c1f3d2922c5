/**
 * Vendor cell-information commands, each rendered from the same neutral SimCell data.
 *
 *   CellEnvironment ──► Quectel  AT+QENG="servingcell"/"neighbourcell"  (EC2x, §2.1)
 *                   ├─► Quectel  AT+QENG=1,1 ; AT+QENG?                  (M35/M10 2G, §2.1)
 *                   ├─► SIMCom   AT+CENG=1,1 ; AT+CENG?  (+ URC pages with CENG=2)  (SIM800, §2.2)
 *                   ├─► SIMCom   AT+CPSI?                                (SIM7600, §2.2)
 *                   ├─► Wavecom  AT+CCED=0[,dump]  (+ URCs every 5 s with mode 1)   (§2.3)
 *                   └─► Huawei   AT^SYSINFO, AT^HCSQ?, AT^CURC                      (§2.4)
 *
 * Field order, separators, hex case and padding follow the samples quoted in at-commands.md;
 * where a format is a gap in the reference (§8: M35 neighbour lines, SIM7600 WCDMA trailing
 * fields) the line says SYNTHETIC.
 */
import { error, intArg, ok, unquote, type CommandContext, type Handler } from './context.js';
import { effectiveStat, isRegistered, simInSlot } from './network-commands.js';
import type { SimCell } from './types.js';

const hexU = (n: number, w = 0): string => n.toString(16).toUpperCase().padStart(w, '0');
const hexL = (n: number, w = 0): string => n.toString(16).padStart(w, '0');
const pad = (n: number, w: number): string => String(n).padStart(w, '0');
/** GSM RxLev 0..63 from dBm (rxlev − 111 = dBm, §1.5). */
const rxlev = (dbm: number): number => Math.max(0, Math.min(63, dbm + 111));

function registered(ctx: CommandContext): boolean {
  return isRegistered(effectiveStat(ctx.state, ctx.faults));
}

// ---- Quectel EC2x: AT+QENG="servingcell" / "neighbourcell" (§2.1, EG25 capture and manual examples)

export function qengServing(c: SimCell): string {
  if (c.rat === 'LTE') {
    const duplex = c.band >= 33 ? 'TDD' : 'FDD';
    const bw = duplex === 'TDD' ? 5 : 3;
    // "servingcell","NOCONN","LTE","FDD",214,01,7676A09,188,6300,20,3,3,603,-104,-9,-78,11,23
    return `+QENG: "servingcell","NOCONN","LTE","${duplex}",${c.mcc},${c.mnc},${hexU(c.ci)},${c.pci},${c.arfcn},${c.band},${bw},${bw},${hexU(c.lac)},${c.levelDbm},${c.quality},${c.levelDbm + 25},${c.sinr},${c.levelDbm + 127}`;
  }
  if (c.rat === 'WCDMA') {
    return `+QENG: "servingcell","NOCONN","WCDMA",${c.mcc},${c.mnc},${hexU(c.lac)},${hexU(c.ci)},${c.arfcn},${c.psc},1,${c.levelDbm},${c.quality},-,-,-,-,-`;
  }
  // "servingcell","NOCONN","GSM",460,01,5504,2B55,52,123,0,-111,5,14,64,0,0,0,-,-,-,-,-,-,-,-,-,"-"
  const c1 = rxlev(c.levelDbm) - 10;
  return `+QENG: "servingcell","NOCONN","GSM",${c.mcc},${c.mnc},${hexU(c.lac)},${hexU(c.ci)},${c.bsic},${c.arfcn},0,${c.levelDbm},5,14,64,${c1},${c1},1,-,-,-,-,-,-,-,-,-,"-"`;
}

export function qengNeighbours(serving: SimCell, cells: SimCell[]): string[] {
  return cells.map((n) => {
    if (serving.rat === 'LTE') {
      // intra: earfcn,pcid,rsrq,rsrp,rssi,sinr,srxlev,prio,s_non_intra,thresh_low,s_intra (note rsrq before rsrp)
      return `+QENG: "neighbourcell intra","LTE",${n.arfcn},${n.pci},${n.quality},${n.levelDbm},${n.levelDbm + 25},${n.sinr},${n.levelDbm + 127},4,12,10,62`;
    }
    if (serving.rat === 'WCDMA') return `+QENG: "neighbourcell","WCDMA",${n.arfcn},1,${n.psc},${n.levelDbm},${n.quality},0,-,-`;
    const l = rxlev(n.levelDbm);
    return `+QENG: "neighbourcell","GSM",${n.mcc},${n.mnc},${hexU(n.lac)},${hexU(n.ci)},${n.bsic},${n.arfcn},${n.levelDbm},${l - 10},${l - 10},0,0`;
  });
}

const qeng: Handler = (cmd, ctx) => {
  if (ctx.profile.cellDialect === 'quectel-qeng-2g') return qeng2g(cmd, ctx);
  if (ctx.profile.cellDialect !== 'quectel-qeng') return error();
  if (cmd.type === 'test') return ok(['+QENG: ("servingcell","neighbourcell")']);
  if (cmd.type !== 'set') return error();
  const what = unquote(cmd.args[0]).toLowerCase();
  const env = ctx.state.cells;
  if (what === 'servingcell') return ok([registered(ctx) ? qengServing(env.serving) : '+QENG: "servingcell","SEARCH"']);
  if (what === 'neighbourcell') return ok(registered(ctx) ? qengNeighbours(env.serving, env.neighbours.slice(0, 3)) : []);
  return error();
};

// ---- Quectel M35 2G: AT+QENG=<mode>,<dump> then AT+QENG? (§2.1 "Quectel 2G modules")

function qeng2g(cmd: Parameters<Handler>[0], ctx: CommandContext): ReturnType<Handler> {
  const s = ctx.settings.qeng;
  if (cmd.type === 'test') return ok(['+QENG: (0,1),(0-3)']);
  if (cmd.type === 'set') {
    const mode = intArg(cmd.args[0]);
    const dump = cmd.args[1] === undefined ? 0 : intArg(cmd.args[1]);
    if ((mode !== 0 && mode !== 1) || dump === undefined || dump > 3) return error();
    ctx.settings.qeng = { mode, dump };
    return ok();
  }
  if (cmd.type !== 'read') return error();
  const lines = [`+QENG: ${s.mode},${s.dump}`];
  if (s.mode === 1 && registered(ctx)) {
    const c = ctx.state.cells.serving;
    const l = rxlev(c.levelDbm);
    // 0,mcc,mnc,lac,cellid,bcch,bsic,dbm,c1,c2,txp,rla,tch,ts,maio,hsn,ta,rxq_sub,rxq_full; x = idle
    lines.push(`+QENG: 0,${c.mcc},${c.mnc},${hexL(c.lac)},${hexL(c.ci)},${c.arfcn},${c.bsic},${c.levelDbm},${l - 8},${l + 16},0,20,x,x,x,x,x,x,x`);
    if (s.dump & 1) {
      // SYNTHETIC: no verified field list for neighbour lines (§8 gap).
      ctx.state.cells.neighbours.slice(0, 6).forEach((n, i) => {
        lines.push(`+QENG: 1,${i + 1},${n.arfcn},${n.levelDbm},${n.bsic},${rxlev(n.levelDbm) - 8},${rxlev(n.levelDbm) + 16},${n.mcc},${n.mnc},${hexL(n.lac)},${hexL(n.ci)}`);
      });
    }
  }
  return ok(lines);
}

// ---- SIMCom SIM800: AT+CENG (§2.2, SIM800 manual V1.09 §6.2.21, SITCH SIM800L fixture)

/** The cell lines of AT+CENG? (and of a CENG=2 URC page). */
export function cengCells(ctx: CommandContext): string[] {
  const { mode, ncell } = ctx.settings.ceng;
  if (!registered(ctx) || mode === 0) return [];
  const c = ctx.state.cells.serving;
  if (mode === 3) {
    return [c, ...ctx.state.cells.neighbours].map((x, i) => `+CENG: ${i},${x.mcc},${x.mnc},${hexL(x.lac, 4)},${hexL(x.ci, 4)},${x.bsic},${rxlev(x.levelDbm)}`);
  }
  // +CENG: 0,"0666,21,00,310,260,08,4e72,04,03,0113,255"  bcch,rxl,rxq,mcc,mnc,bsic,cellid,rla,txp,lac,TA
  const lines = [`+CENG: 0,"${pad(c.arfcn, 4)},${pad(rxlev(c.levelDbm), 2)},${pad(c.quality, 2)},${c.mcc},${c.mnc},${pad(c.bsic, 2)},${hexL(c.ci, 4)},04,03,${hexL(c.lac, 4)},255"`];
  ctx.state.cells.neighbours.slice(0, 6).forEach((n, i) => {
    // +CENG: 1,"1688,16,25,a53f,310,260,0113"  bcch,rxl,bsic[,cellid],mcc,mnc,lac
    const cellid = ncell === 1 ? `${hexL(n.ci, 4)},` : '';
    lines.push(`+CENG: ${i + 1},"${pad(n.arfcn, 4)},${pad(rxlev(n.levelDbm), 2)},${pad(n.bsic, 2)},${cellid}${n.mcc},${n.mnc},${hexL(n.lac, 4)}"`);
  });
  return lines;
}

const ceng: Handler = (cmd, ctx) => {
  if (ctx.profile.cellDialect !== 'simcom-ceng') return error();
  if (cmd.type === 'test') return ok(['+CENG: (0-4),(0-1)']);
  if (cmd.type === 'read') return ok([`+CENG: ${ctx.settings.ceng.mode},${ctx.settings.ceng.ncell}`, ...cengCells(ctx)]);
  if (cmd.type !== 'set') return error();
  const mode = intArg(cmd.args[0]);
  const ncell = cmd.args[1] === undefined ? 0 : intArg(cmd.args[1]);
  if (mode === undefined || mode > 4 || (ncell !== 0 && ncell !== 1)) return error();
  ctx.settings.ceng = { mode, ncell };
  return ok();
};

// ---- SIMCom SIM7600: AT+CPSI? (§2.2 captures; RSRQ/RSRP/RSSI in tenths of dB)

export function cpsiLine(c: SimCell, online: boolean): string {
  if (!online) return '+CPSI: NO SERVICE,Online';
  const plmn = `${c.mcc}-${c.mnc}`;
  if (c.rat === 'LTE') {
    const bw = c.band >= 33 ? 5 : 3;
    // +CPSI: LTE,Online,228-02,0x9CA4,20964868,46,EUTRAN-BAND20,6200,3,3,-178,-1089,-742,8
    return `+CPSI: LTE,Online,${plmn},0x${hexU(c.lac, 4)},${c.ci},${c.pci},EUTRAN-BAND${c.band},${c.arfcn},${bw},${bw},${c.quality * 10 - 3},${c.levelDbm * 10 - 4},${(c.levelDbm + 25) * 10 - 2},${Math.round(c.sinr / 2)}`;
  }
  if (c.rat === 'GSM') {
    // +CPSI: GSM,Online,262-02,0x011f,14822,4 EGSM 900,-67,0,40-40
    return `+CPSI: GSM,Online,${plmn},0x${hexL(c.lac, 4)},${c.ci},${c.arfcn} EGSM 900,${c.levelDbm},0,40-40`;
  }
  // SYNTHETIC trailing fields: shape of the WCDMA capture, meaning unverified (§2.2, §8).
  return `+CPSI: WCDMA,Online,${plmn},0x${hexU(c.lac, 4)},${c.ci},WCDMA IMT 2000,${c.psc},${c.arfcn},0,${Math.abs(c.quality)}.5,${-c.levelDbm},37,60,500`;
}

const cpsi: Handler = (cmd, ctx) => {
  if (ctx.profile.cellDialect !== 'simcom-cpsi') return error();
  if (cmd.type === 'test') return ok(['+CPSI: (0-255)']);
  if (cmd.type === 'set') return intArg(cmd.args[0]) === undefined ? error() : ok();
  if (cmd.type !== 'read') return error();
  return ok([cpsiLine(ctx.state.cells.serving, registered(ctx))]);
};

// ---- Wavecom: AT+CCED=<mode>[,<dump>] (§2.3, WM_DEV_OAT_UGD_049 §11.3, Multi-Tech example)

/** Lines of one CCED shot for the dump bitmask: 8 → a +CSQ line, 1 main, 2 neighbours, 4 TA. */
export function ccedLines(ctx: CommandContext, dump: number): string[] {
  const lines: string[] = [];
  if (dump & 8) lines.push(`+CSQ: ${ctx.state.csq.rssi},${ctx.state.csq.ber}`);
  const on = registered(ctx);
  const fields: string[] = [];
  const c = ctx.state.cells.serving;
  // "Values of MCC/MNC are set to 0 in the case of 'No service'".
  const mcc = on ? c.mcc : '0';
  const mnc = on ? c.mnc : '0';
  // Main: MCC,MNC,LAC,CI,BSIC,BCCH,RxLev,RxLevFull,RxLevSub,RxQual,RxQualFull,RxQualSub,IdleTS (idle: full/sub empty)
  if (dump & 1) fields.push(`${mcc},${mnc},${hexL(c.lac, 4)},${hexL(c.ci, 4)},${c.bsic},${c.arfcn},${rxlev(c.levelDbm)},,,${c.quality},,,0`);
  if (dump & 2) {
    for (const n of ctx.state.cells.neighbours.slice(0, 6)) {
      fields.push(`${on ? n.mcc : '0'},${on ? n.mnc : '0'},${hexL(n.lac, 4)},${hexL(n.ci, 4)},${n.bsic},${n.arfcn},${rxlev(n.levelDbm)}`);
    }
  }
  if (dump & 4) fields.push('0');
  if (fields.length) lines.push(`+CCED:${fields.join(',')}`);
  return lines;
}

const cced: Handler = (cmd, ctx) => {
  if (ctx.profile.cellDialect !== 'wavecom-cced') return error();
  if (cmd.type === 'test') return ok();
  if (cmd.type !== 'set') return error();
  const mode = intArg(cmd.args[0]);
  // "default = last used, or 15"
  const dump = cmd.args[1] === undefined ? ctx.settings.cced.dump : intArg(cmd.args[1]);
  if (mode === undefined || mode > 2 || dump === undefined || dump > 31) return error();
  ctx.settings.cced = { mode, dump };
  return ok(mode === 0 ? ccedLines(ctx, dump) : []);
};

// ---- Huawei: ^SYSINFO, ^HCSQ, ^CURC (§2.4)

const sysinfo: Handler = (cmd, ctx) => {
  if (ctx.profile.cellDialect !== 'huawei') return error();
  if (cmd.type !== 'exec') return cmd.type === 'test' ? ok() : error();
  const sim = simInSlot(ctx.state, ctx.faults);
  const c = ctx.state.cells.serving;
  const sysMode = c.rat === 'WCDMA' ? 5 : 3;
  if (!sim) return ok([`^SYSINFO:1,0,0,${sysMode},255,,0`]); // sim_state 255: no SIM (inference)
  if (!registered(ctx)) return ok(['^SYSINFO:0,0,0,0,1,,0']);
  // srv 2 valid, domain 3 CS+PS, roam 0, sys_mode 5 WCDMA / 3 GSM, sim 1 valid, submode 4 HSDPA / 3 EDGE
  return ok([`^SYSINFO:2,3,0,${sysMode},1,,${c.rat === 'WCDMA' ? 4 : 3}`]);
};

const hcsq: Handler = (cmd, ctx) => {
  if (ctx.profile.cellDialect !== 'huawei') return error();
  if (cmd.type !== 'read') return cmd.type === 'test' ? ok(['^HCSQ: "NOSERVICE","GSM","WCDMA"']) : error();
  if (!registered(ctx)) return ok(['^HCSQ:"NOSERVICE"']);
  const c = ctx.state.cells.serving;
  // rssi −121+v, ecio −32.5+v/2 (MM huawei plugin conversions, run backwards)
  if (c.rat === 'GSM') return ok([`^HCSQ:"GSM",${c.levelDbm + 121}`]);
  return ok([`^HCSQ:"WCDMA",${c.levelDbm + 5 + 121},${c.levelDbm + 121},${Math.round((c.quality + 32.5) * 2)}`]);
};

const curc: Handler = (cmd, ctx) => {
  if (!ctx.profile.huaweiNoise) return error();
  if (cmd.type === 'read') return ok([`^CURC: ${ctx.settings.curc}`]);
  if (cmd.type === 'test') return ok(['^CURC: (0-1)']);
  const n = cmd.type === 'set' ? intArg(cmd.args[0]) : undefined;
  if (n !== 0 && n !== 1) return error();
  // Gammu's F_HUAWEI_INIT sends AT^CURC=0 to silence ^RSSI/^MODE (§2.4).
  ctx.settings.curc = n;
  return ok();
};

export const CELL_COMMANDS: Record<string, Handler> = {
  '+QENG': qeng,
  '+CENG': ceng,
  '+CPSI': cpsi,
  '+CCED': cced,
  '^SYSINFO': sysinfo,
  '^HCSQ': hcsq,
  '^CURC': curc,
};
