/**
 * Number normalisation and the mobile-range table.
 *
 * Number structure: Wikipedia "Telephone numbers in China" (country code 86, international prefix
 * 00, trunk prefix 0, 11-digit mobile numbers 13x-19x without area code, landlines = 2- or 3-digit
 * area code + 7-8 digits). Prefix allocations: MIIT, as tabulated in
 * github.com/VincentSit/ChinaMobilePhoneNumberRegex (README "Carrier", "MVNO", "Data-plans only"),
 * with 190/196/197/192 from MIIT's 2019 allocation. The numbers themselves are made up.
 */
import { describe, expect, it } from 'vitest';
import { defaultMobileRanges, isPhoneNumber, matchRange, normaliseNumber, validatePattern } from '../../../src/behaviour/numbers.js';
import table from '../../../src/behaviour/number-ranges.json' with { type: 'json' };

describe('normaliseNumber', () => {
  it.each([
    ['+8613812345678', '13812345678', '+86 and an 11-digit mobile'],
    ['008613812345678', '13812345678', 'international prefix 00, country code 86'],
    ['8613812345678', '13812345678', 'country code without + or 00, before a full mobile number'],
    ['13812345678', '13812345678', 'national mobile number'],
    ['013812345678', '13812345678', 'mobile dialled with the trunk 0 from a landline in another area'],
    ['+86 138-1234-5678', '13812345678', 'visual separators (RFC 3966 §5.1.1)'],
    ['01012345678', '1012345678', 'Beijing landline: trunk 0 + area code 10 + 8 digits'],
    ['075512345678', '75512345678', 'Shenzhen landline: trunk 0 + area code 755 + 8 digits'],
    ['+861012345678', '1012345678', 'Beijing landline in international form'],
    ['+8607551234567', '7551234567', 'the trunk 0 wrongly kept after +86 is dropped'],
    ['861012345678', '1012345678', '86 before a full landline number'],
    ['+14155550100', '+14155550100', 'NANP number keeps its country code'],
    ['004915112345678', '+4915112345678', 'German mobile after 00 keeps its country code'],
    ['+85291234567', '+85291234567', 'Hong Kong is outside the mainland plan (+852)'],
    ['10086', '10086', 'operator short code'],
    ['95588', '95588', 'bank service short code'],
    ['110', '110', 'emergency short code'],
    ['86123456', '86123456', 'an 8-digit local number that happens to start with 86'],
    ['12345678', '12345678', 'a local number without area code'],
    ['goip01', 'goip01', 'an account name is not a number'],
    ['13812345678;phone-context=+86', '13812345678', 'URI parameters are dropped'],
  ])('%s → %s (%s)', (input, want) => {
    expect(normaliseNumber(input)).toBe(want);
  });

  it('is idempotent', () => {
    for (const x of ['+8613812345678', '075512345678', '004915112345678', '10086', '01012345678']) {
      expect(normaliseNumber(normaliseNumber(x))).toBe(normaliseNumber(x));
    }
  });
});

describe('matchRange over the mainland China mobile table', () => {
  const carrier = (n: string): string | undefined => matchRange(n, defaultMobileRanges)?.name.split(', ')[1];
  it.each([
    ['+8613812345678', 'China Mobile allocation', '138'],
    ['008613412345678', 'China Mobile allocation', '134[0-8]'],
    ['13491234567', undefined, '1349 is satellite, not a mobile range'],
    ['8617212345678', 'China Mobile allocation', '172 (2020)'],
    ['19512345678', 'China Mobile allocation', '195 (2019)'],
    ['19712345678', 'China Mobile allocation', '197 (MIIT 2019)'],
    ['13012345678', 'China Unicom allocation', '130'],
    ['16612345678', 'China Unicom allocation', '166'],
    ['19612345678', 'China Unicom allocation', '196 (MIIT 2019)'],
    ['13312345678', 'China Telecom allocation', '133'],
    ['17400123456', 'China Telecom allocation', '1740[0-5]'],
    ['17406123456', undefined, '17406-17412 is the MIIT emergency-communications range'],
    ['19012345678', 'China Telecom allocation', '190 (MIIT 2019)'],
    ['19912345678', 'China Telecom allocation', '199'],
    ['19212345678', 'China Broadnet allocation', '192 (MIIT 2019)'],
    ['16212345678', 'virtual operators', '162 MVNO'],
    ['17012345678', 'virtual operators', '170 MVNO'],
    ['14712345678', 'data-plan numbers with voice', '147'],
    ['14512345678', undefined, '145 is data-only without voice'],
    ['15412345678', undefined, '154 is not allocated'],
    ['1381234567', undefined, '10 digits: too short'],
    ['138123456789', undefined, '12 digits: too long'],
    ['01012345678', undefined, 'Beijing landline'],
    ['075512345678', undefined, 'Shenzhen landline'],
    ['+4915112345678', undefined, 'German mobile must not match 151 after its country code'],
    ['004915112345678', undefined, 'same, 00 form'],
    ['10086', undefined, 'short code'],
  ] as Array<[string, string | undefined, string]>)('%s → %s (%s)', (n, want) => {
    expect(carrier(n)).toBe(want);
  });

  it('names a source for every row and every row compiles', () => {
    expect(defaultMobileRanges.length).toBe(table.ranges.length);
    for (const r of defaultMobileRanges) {
      expect(r.source.length).toBeGreaterThan(20);
      expect(validatePattern(r.pattern)).toBeUndefined();
      expect(r.name.length).toBeLessThanOrEqual(64); // config schema limit
      expect(Object.keys(r)).toEqual(['name', 'pattern', 'source']);
    }
  });

  it('skips an invalid pattern instead of throwing', () => {
    const ranges = [{ name: 'broken', pattern: '^(13', source: 'test' }, ...defaultMobileRanges];
    expect(validatePattern('^(13')).toBeDefined();
    expect(matchRange('13812345678', ranges)?.name).toMatch(/China Mobile/);
  });

  it('tells phone numbers from account names', () => {
    expect(isPhoneNumber('13812345678')).toBe(true);
    expect(isPhoneNumber('+8613812345678')).toBe(true);
    expect(isPhoneNumber('goip01')).toBe(false);
    expect(isPhoneNumber('12')).toBe(false);
    expect(isPhoneNumber(undefined)).toBe(false);
  });
});
