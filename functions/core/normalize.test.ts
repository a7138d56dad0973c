import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { UserSchema } from './conversion.ts';
import {
  hashUser,
  isSha256Hex,
  normalizeCity,
  normalizeCountry,
  normalizeEmail,
  normalizeEmailGoogle,
  normalizeEmailMicrosoft,
  normalizeEmailReddit,
  normalizeName,
  normalizePhone,
  normalizeState,
  normalizeStreet,
  normalizeZip,
  sha256Hex,
  splitFullName,
} from './normalize.ts';

/** Independent oracle: expected hashes are computed here from the documented normalized string. */
const h = (normalized: string) => createHash('sha256').update(normalized, 'utf8').digest('hex');

/** Vectors published by Meta (customer-information parameters) and re-checked against its Node SDK (platforms.md §1.7). */
const META = {
  email: '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f', // john_smith@gmail.com
  phoneUs: 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176', // 16505551212
  phoneUk: 'dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383', // 448444124653
  countryUs: '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621', // us
  mary: '6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec', // mary
};

describe('sha256Hex / isSha256Hex', () => {
  it('hashes UTF-8 to lowercase hex, matching the documented vectors', () => {
    expect(sha256Hex('john_smith@gmail.com')).toBe(META.email);
    expect(sha256Hex('us')).toBe(META.countryUs);
    expect(sha256Hex('sãopaulo')).toBe(h('sãopaulo'));
  });
  it('recognizes 64-hex strings in any case only', () => {
    expect(isSha256Hex(META.email)).toBe(true);
    expect(isSha256Hex(META.email.toUpperCase())).toBe(true);
    expect(isSha256Hex(META.email.slice(1))).toBe(false);
    expect(isSha256Hex(`${META.email.slice(1)}g`)).toBe(false);
  });
});

describe('normalizeEmail (Meta, TikTok)', () => {
  it('trims and lowercases (Meta doc example)', () => {
    expect(normalizeEmail('  John_Smith@Gmail.com ')).toBe('john_smith@gmail.com');
    expect(sha256Hex(normalizeEmail('  John_Smith@Gmail.com ')!)).toBe(META.email);
  });
  it('keeps dots and +tags, and unicode local parts', () => {
    expect(normalizeEmail('Jane.Doe+News@Example.COM')).toBe('jane.doe+news@example.com');
    expect(normalizeEmail('Jürgen@Example.de')).toBe('jürgen@example.de');
  });
  it.each(['', '   ', 'no-at-sign', '@example.com', 'a@b', 'a@@b.com', 'a@b@c.com', 'a b@c.com', 'a@.com', 'a@b.'])(
    'rejects %j',
    (bad) => expect(normalizeEmail(bad)).toBeUndefined(),
  );
  it('rejects null and undefined', () => {
    expect(normalizeEmail(null)).toBeUndefined();
    expect(normalizeEmail(undefined)).toBeUndefined();
  });
});

describe('normalizeEmailGoogle', () => {
  it('drops dots in the local part for gmail.com and googlemail.com', () => {
    expect(normalizeEmailGoogle('  John.Smith@Gmail.com ')).toBe('johnsmith@gmail.com');
    // platforms.md §3.5 example
    expect(sha256Hex(normalizeEmailGoogle('John.Smith@Gmail.com')!)).toBe(
      '3586de92bb3636d0885a12eff961429a32e4ebd764b96f50d85d016f9338d586',
    );
    expect(normalizeEmailGoogle('a.b.c@googlemail.com')).toBe('abc@googlemail.com');
  });
  it('keeps dots for other domains and keeps +tags everywhere', () => {
    expect(normalizeEmailGoogle('John.Smith@Example.com')).toBe('john.smith@example.com');
    expect(normalizeEmailGoogle('john.smith+ads@gmail.com')).toBe('johnsmith+ads@gmail.com');
  });
  it('rejects what normalizeEmail rejects', () => {
    expect(normalizeEmailGoogle('john.smith@gmail')).toBeUndefined();
    expect(normalizeEmailGoogle('...@gmail.com')).toBeUndefined();
  });
});

describe('normalizeEmailMicrosoft (UET Conversions API, offline conversions)', () => {
  // learn.microsoft.com/en-us/advertising/guides/uet-conversion-api-integration → "To hash an email address":
  // trim, remove all dots from the user part, remove the +alias, lowercase; published hash of john@contoso.com.
  it('matches the hash Microsoft publishes', () => {
    expect(sha256Hex(normalizeEmailMicrosoft(' John@Contoso.com ')!)).toBe('ec81f3ac7b2b19675bab9d54cf416f9f18cff87c97da5cca82c0f0891bc40602');
  });
  it('drops every dot and the +alias of the local part for any domain, not only gmail', () => {
    expect(normalizeEmailMicrosoft('Jane.Doe@Example.com')).toBe('janedoe@example.com');
    expect(h(normalizeEmailMicrosoft('Jane.Doe@Example.com')!)).toBe('c4d25e9c90ff23e9145397bc6fbd5385ca5fbe78211222ccbecd0b369ebb19a6');
    expect(normalizeEmailMicrosoft('name+withplus@outlook.com')).toBe('name@outlook.com');
    expect(normalizeEmailMicrosoft('j.o.h.n+a+b@mail.co.uk')).toBe('john@mail.co.uk');
  });
  it('keeps the domain’s dots and other characters, removes accents (Enhanced conversions formatting rules)', () => {
    expect(normalizeEmailMicrosoft('John_Smith@sub.example.com')).toBe('john_smith@sub.example.com');
    expect(normalizeEmailMicrosoft('Andrés.Núñez@example.com')).toBe('andresnunez@example.com');
  });
  it('rejects what normalizeEmail rejects, and a local part that is only dots or an alias', () => {
    expect(normalizeEmailMicrosoft('john@contoso')).toBeUndefined();
    expect(normalizeEmailMicrosoft('+shop@example.com')).toBeUndefined();
    expect(normalizeEmailMicrosoft('..@example.com')).toBeUndefined();
  });
});

describe('normalizeEmailReddit', () => {
  it('drops the +alias and every non-alphanumeric of the local part, any domain (Reddit’s help page example)', () => {
    expect(normalizeEmailReddit('Al.ice$+Apple@Example.Com')).toBe('alice@example.com');
    expect(sha256Hex(normalizeEmailReddit('Al.ice$+Apple@Example.Com')!)).toBe('ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976');
    expect(normalizeEmailReddit(' jane_doe-1@shop.example.co.uk ')).toBe('janedoe1@shop.example.co.uk');
  });
  it('rejects what normalizeEmail rejects, and a local part left empty', () => {
    expect(normalizeEmailReddit('jane@example')).toBeUndefined();
    expect(normalizeEmailReddit('+tag@example.com')).toBeUndefined();
  });
});

describe('normalizePhone', () => {
  it.each([
    ['+1 (650) 555-1212', undefined, '16505551212'],
    ['16505551212', undefined, '16505551212'],
    ['16505551212', 'US', '16505551212'],
    ['(650)555-1212', 'US', '16505551212'],
    ['650.555.1212', 'US', '16505551212'],
    ['650-555-1212', 'us', '16505551212'],
    ['+44 844 412 4653', undefined, '448444124653'],
    ['0044 844 412 4653', undefined, '448444124653'],
    ['0044 844 412 4653', 'US', '448444124653'],
    ['011 44 844 412 4653', 'US', '448444124653'],
    ['07700 900123', 'GB', '447700900123'],
    ['+49 (0)30 1234567', undefined, '49301234567'],
    ['030 1234567', 'DE', '49301234567'],
    ['06 12 34 56 78', 'FR', '33612345678'],
    ['+1 650 555 1212 ext. 12', undefined, '16505551212'],
  ])('%j (default %s) → %s', (raw, country, digits) => {
    expect(normalizePhone(raw, country)).toEqual({ digits, e164: `+${digits}` });
  });
  it('matches Meta doc vectors for the digits form', () => {
    expect(sha256Hex(normalizePhone('+1 (650) 555-1212')!.digits)).toBe(META.phoneUs);
    expect(sha256Hex(normalizePhone('(650)555-1212', 'US')!.digits)).toBe(META.phoneUs);
    expect(sha256Hex(normalizePhone('+44 844 412 4653')!.digits)).toBe(META.phoneUk);
    expect(sha256Hex(normalizePhone('0044 844 412 4653')!.digits)).toBe(META.phoneUk);
  });
  it('gives the E.164 form Google and TikTok hash', () => {
    // platforms.md §3.5: +16505551212 → 1e231c66…0ffbc8
    expect(sha256Hex(normalizePhone('+1 650-555-1212')!.e164)).toBe(
      '1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8',
    );
  });
  it.each([
    ['12345', 'US'],
    ['12345', undefined],
    ['07700 900123', undefined], // national format, no country to resolve it
    ['(650)555-1212', undefined],
    ['not a phone', 'US'],
    ['', 'US'],
    ['+1 555', undefined],
  ])('rejects %j (default %s)', (raw, country) => {
    expect(normalizePhone(raw, country)).toBeUndefined();
  });
  it("reads a '+' number as valid-then-possible did, for every kind of number (the validity check now runs last)", () => {
    // The earlier rule, with the library as the oracle: valid as written, else possible as written, else none.
    const earlier = (raw: string, country?: CountryCode) => {
      const n = parsePhoneNumberFromString(raw, country ? { defaultCountry: country } : {});
      return n?.isValid() || n?.isPossible() ? n.number : undefined;
    };
    const inputs = [
      '+1 (650) 555-1212', '+1 650 155 1212', '+1 200 555 0100', '+1 555', '+1 650 555 12120', '+44 844 412 4653', '+44 7700 900123',
      '+49 (0)30 1234567', '+49 30 12', '+33 6 12 34 56 78', '+33 1', '+81 3-1234-5678', '+61 4 1234 5678', '+999 123 456',
      '+1 650 555 1212 ext. 12', '+7 495 123-45-67', '+86 10 1234 5678', '+1 (650) 555-1212', '+0 123 456 789',
    ];
    let seed = 7;
    const digit = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % 10);
    for (const cc of ['1', '44', '49', '33', '81', '91', '55', '52']) {
      for (let i = 0; i < 25; i++) inputs.push(`+${cc} ${Array.from({ length: 6 + (i % 8) }, digit).join('')}`);
    }
    for (const raw of inputs) {
      for (const country of [undefined, 'US', 'GB'] as const) {
        const e164 = earlier(raw, country);
        expect(normalizePhone(raw, country), `${raw} (${country})`).toEqual(e164 ? { digits: e164.slice(1), e164 } : undefined);
      }
    }
  });
  it('ignores an unknown default country', () => {
    expect(normalizePhone('+44 844 412 4653', 'XX')?.digits).toBe('448444124653');
    expect(normalizePhone('(650)555-1212', 'XX')).toBeUndefined();
  });
});

describe('normalizeName', () => {
  it('lowercases and trims (Meta doc example)', () => {
    expect(normalizeName(' Mary ')).toBe('mary');
    expect(sha256Hex(normalizeName(' Mary ')!)).toBe(META.mary);
  });
  it('keeps accented and non-Latin letters, NFC-composed', () => {
    expect(normalizeName('José')).toBe('josé');
    expect(normalizeName('Jose\u0301')).toBe('jos\u00e9'); // decomposed input composes to the same string
    expect(sha256Hex(normalizeName('Jose\u0301')!)).toBe(h('josé'));
    expect(normalizeName('Łukasz')).toBe('łukasz');
    expect(normalizeName('Müller-Lüdenscheidt')).toBe('müllerlüdenscheidt');
    expect(normalizeName('Владимир')).toBe('владимир');
  });
  it('removes punctuation, digits and spaces', () => {
    expect(normalizeName("O'Brien")).toBe('obrien');
    expect(normalizeName('Mary Ann')).toBe('maryann');
    expect(normalizeName('John2.')).toBe('john');
    expect(normalizeName('123 !')).toBeUndefined();
  });
});

describe('splitFullName', () => {
  it.each([
    ['John Smith', 'John', 'Smith'],
    ['  John   Michael Smith ', 'John', 'Smith'],
    ['Smith, John', 'John', 'Smith'],
    ['Dr. Jane Doe Jr.', 'Jane', 'Doe'],
    ['Maria van der Berg', 'Maria', 'van der Berg'],
    ['Cher', 'Cher', undefined],
  ])('%j → %s / %s', (raw, firstName, lastName) => {
    const out = splitFullName(raw);
    expect(out.firstName).toBe(firstName);
    expect(out.lastName).toBe(lastName);
  });
});

describe('normalizeCity', () => {
  it.each([
    ['St. Louis', 'stlouis'],
    ['São Paulo', 'sãopaulo'],
    ["O'Fallon", 'ofallon'],
    ['Menlo Park', 'menlopark'],
    ['  NEW YORK 10 ', 'newyork'],
  ])('%j → %s', (raw, out) => {
    expect(normalizeCity(raw)).toBe(out);
    expect(sha256Hex(normalizeCity(raw)!)).toBe(h(out));
  });
});

describe('normalizeState', () => {
  it('maps US state names to the lowercase 2-letter code', () => {
    expect(normalizeState('California')).toBe('ca');
    expect(normalizeState('New York', 'US')).toBe('ny');
    expect(normalizeState('New-York 12')).toBe('ny');
    expect(normalizeState('district of columbia', 'United States')).toBe('dc');
    expect(normalizeState('West Virginia', 'us')).toBe('wv');
    expect(normalizeState('CA')).toBe('ca');
    expect(normalizeState('N.Y.')).toBe('ny');
  });
  it('leaves non-US states as lowercase letters only', () => {
    expect(normalizeState('Georgia', 'ge')).toBe('georgia');
    expect(normalizeState('Île-de-France', 'FR')).toBe('îledefrance');
    expect(normalizeState('Nordrhein-Westfalen', 'DE')).toBe('nordrheinwestfalen');
  });
  it('covers all 50 states and DC', () => {
    const names = [
      'Alabama', 'Alaska', 'Arizona', 'Arkansas', 'California', 'Colorado', 'Connecticut', 'Delaware', 'Florida',
      'Georgia', 'Hawaii', 'Idaho', 'Illinois', 'Indiana', 'Iowa', 'Kansas', 'Kentucky', 'Louisiana', 'Maine',
      'Maryland', 'Massachusetts', 'Michigan', 'Minnesota', 'Mississippi', 'Missouri', 'Montana', 'Nebraska', 'Nevada',
      'New Hampshire', 'New Jersey', 'New Mexico', 'New York', 'North Carolina', 'North Dakota', 'Ohio', 'Oklahoma',
      'Oregon', 'Pennsylvania', 'Rhode Island', 'South Carolina', 'South Dakota', 'Tennessee', 'Texas', 'Utah',
      'Vermont', 'Virginia', 'Washington', 'West Virginia', 'Wisconsin', 'Wyoming', 'District of Columbia',
    ];
    const codes = names.map((n) => normalizeState(n, 'US'));
    expect(codes.every((c) => c !== undefined && /^[a-z]{2}$/.test(c))).toBe(true);
    expect(new Set(codes).size).toBe(51);
  });
});

describe('normalizeZip', () => {
  it.each([
    ['94035-1234', undefined, '94035'],
    ['94035-1234', 'US', '94035'],
    ['940351234', 'US', '94035'],
    [' 94035 ', 'us', '94035'],
    ['M1 1AE', 'GB', 'm11ae'],
    ['M1 1AE', undefined, 'm11ae'],
    ['123-4567', 'JP', '1234567'],
    ['10115', 'DE', '10115'],
  ])('%j (%s) → %s', (raw, country, out) => {
    expect(normalizeZip(raw, country)).toBe(out);
  });
  it('drops unusable values', () => {
    expect(normalizeZip('1')).toBeUndefined();
    expect(normalizeZip('2134', 'US')).toBeUndefined();
    expect(normalizeZip('  ')).toBeUndefined();
  });
});

describe('normalizeCountry', () => {
  it.each([
    ['US', 'us'],
    ['us', 'us'],
    [' United States ', 'us'],
    ['USA', 'us'],
    ['United States of America', 'us'],
    ['United Kingdom', 'gb'],
    ['UK', 'gb'],
    ['gb', 'gb'],
    ['Germany', 'de'],
    ['Deutschland', 'de'],
    ['DEU', 'de'],
    ['France', 'fr'],
    ['Brazil', 'br'],
    ['Brasil', 'br'],
    ["Côte d'Ivoire", 'ci'],
    ['Japan', 'jp'],
  ])('%j → %s', (raw, out) => {
    expect(normalizeCountry(raw)).toBe(out);
  });
  it('matches the Meta vector for us', () => {
    expect(sha256Hex(normalizeCountry('US')!)).toBe(META.countryUs);
  });
  it.each(['XX', 'Narnia', '', 'ZZZ'])('rejects %j', (raw) => expect(normalizeCountry(raw)).toBeUndefined());
});

describe('normalizeStreet', () => {
  it('trims, lowercases and collapses whitespace', () => {
    expect(normalizeStreet('  1600  Amphitheatre\tPkwy ')).toBe('1600 amphitheatre pkwy');
    expect(normalizeStreet('Rua Augusta, 1500')).toBe('rua augusta, 1500');
    expect(normalizeStreet('   ')).toBeUndefined();
  });
});

describe('hashUser', () => {
  const raw = {
    email: '  John.Smith@Gmail.com ',
    phone: '(650) 555-1212',
    fullName: 'John Smith',
    street: '1600 Amphitheatre Parkway',
    city: 'Mountain View',
    state: 'California',
    zip: '94043-1351',
    country: 'United States',
    externalId: 'cus_ABC123xyz',
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
  };

  it('hashes every field with its documented normalized form', () => {
    const user = hashUser(raw);
    expect(user).toEqual({
      email: h('john.smith@gmail.com'),
      emailGoogle: h('johnsmith@gmail.com'),
      emailMicrosoft: h('johnsmith@gmail.com'),
      emailReddit: h('johnsmith@gmail.com'),
      phone: META.phoneUs,
      phoneE164: h('+16505551212'),
      firstName: h('john'),
      lastName: h('smith'),
      street: h('1600 amphitheatre parkway'),
      city: h('mountainview'),
      state: h('ca'),
      zip: h('94043'),
      country: META.countryUs,
      countryCode: 'us',
      externalId: h('cus_ABC123xyz'),
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    });
    expect(UserSchema.parse(user)).toEqual(user);
  });

  it('contains no raw or normalized input value anywhere', () => {
    const json = JSON.stringify(hashUser(raw)).toLowerCase();
    const secrets = [
      raw.email, raw.phone, raw.fullName, raw.street, raw.city, raw.state, raw.zip, raw.externalId,
      'john.smith@gmail.com', 'johnsmith@gmail.com', 'gmail', '6505551212', 'john', 'smith', 'amphitheatre',
      'mountain', 'california', '94043', 'cus_abc123xyz', 'united states',
    ];
    for (const s of secrets) expect(json).not.toContain(s.trim().toLowerCase());
  });

  it('uses the Meta doc vectors for the simple case', () => {
    expect(hashUser({ email: '  John_Smith@Gmail.com ', phone: '+1 (650) 555-1212', firstName: ' Mary ', country: 'US' })).toEqual({
      email: META.email,
      emailReddit: h('johnsmith@gmail.com'),
      phone: META.phoneUs,
      phoneE164: h('+16505551212'),
      firstName: META.mary,
      country: META.countryUs,
      countryCode: 'us',
    });
  });

  it('omits emailGoogle when it equals the Meta form', () => {
    const user = hashUser({ email: 'Jane.Doe@Example.com' });
    expect(user).not.toHaveProperty('emailGoogle');
    expect(user.email).toBe(h('jane.doe@example.com'));
  });

  it('adds Microsoft’s form (every domain’s dots and +alias dropped) only when it differs from the Meta form', () => {
    expect(hashUser({ email: 'Jane.Doe+shop@Example.com' })).toEqual({ email: h('jane.doe+shop@example.com'), emailMicrosoft: h('janedoe@example.com'), emailReddit: h('janedoe@example.com') });
    expect(hashUser({ email: 'john@contoso.com' })).toEqual({ email: 'ec81f3ac7b2b19675bab9d54cf416f9f18cff87c97da5cca82c0f0891bc40602' });
    // A pre-hashed e-mail's normalization is unknown: no variant is made up for it.
    expect(hashUser({ email: META.email })).toEqual({ email: META.email });
  });

  it('adds the Data Manager API form only when a gmail +tag makes it differ (its formatting guide’s examples)', () => {
    // developers.google.com/data-manager/api/devguides/concepts/formatting: gmail dots and +suffix dropped.
    expect(hashUser({ email: 'cloudy.sanfrancisco+shopping@gmail.com' })).toMatchObject({
      email: h('cloudy.sanfrancisco+shopping@gmail.com'),
      emailGoogle: h('cloudysanfrancisco+shopping@gmail.com'),
      emailDataManager: h('cloudysanfrancisco@gmail.com'),
      emailReddit: h('cloudysanfrancisco@gmail.com'),
    });
    expect(hashUser({ email: 'user+tag@googlemail.com' })).toMatchObject({ email: h('user+tag@googlemail.com'), emailDataManager: h('user@googlemail.com'), emailReddit: h('user@googlemail.com') });
    // Other domains keep dots and the +tag for Google: nothing extra (Microsoft's form is another matter).
    const other = hashUser({ email: 'user.name+NYC@Example.com' });
    expect(other).not.toHaveProperty('emailGoogle');
    expect(other).not.toHaveProperty('emailDataManager');
    expect(other).toMatchObject({ email: h('user.name+nyc@example.com'), emailReddit: h('username@example.com') });
    expect(hashUser({ email: 'john.smith@gmail.com' })).not.toHaveProperty('emailDataManager');
  });

  it('adds Reddit’s form only when it differs from the trim + lowercase one', () => {
    expect(hashUser({ email: 'Jane.Doe+news@Example.com' })).toEqual({ email: h('jane.doe+news@example.com'), emailMicrosoft: h('janedoe@example.com'), emailReddit: h('janedoe@example.com') });
    expect(hashUser({ email: 'janedoe@example.com' })).not.toHaveProperty('emailReddit');
    expect(hashUser({ email: h('jane.doe@example.com') })).toEqual({ email: h('jane.doe@example.com') });
  });

  it('passes already-hashed values through lowercased, never re-hashing them', () => {
    const upper = META.email.toUpperCase();
    const user = hashUser({ email: upper, phone: ` ${META.phoneUs.toUpperCase()} `, firstName: META.mary, lastName: h('smith') });
    expect(user).toEqual({ email: META.email, phone: META.phoneUs, firstName: META.mary, lastName: h('smith') });
  });

  it('uses the address country, then opts.defaultCountry, for national phone numbers', () => {
    expect(hashUser({ phone: '07700 900123', country: 'GB' }).phone).toBe(h('447700900123'));
    expect(hashUser({ phone: '07700 900123' }, { defaultCountry: 'GB' }).phone).toBe(h('447700900123'));
    expect(hashUser({ phone: '(650)555-1212', country: 'US' }, { defaultCountry: 'GB' }).phone).toBe(META.phoneUs);
    expect(hashUser({ phone: '07700 900123' }).phone).toBeUndefined();
  });

  it('prefers explicit first/last names over fullName', () => {
    const user = hashUser({ firstName: 'Mary', lastName: 'Major', fullName: 'Somebody Else' });
    expect(user).toEqual({ firstName: META.mary, lastName: h('major') });
  });

  it('hashes externalId after trim with case kept', () => {
    expect(hashUser({ externalId: '  AbC-123 ' }).externalId).toBe(h('AbC-123'));
  });

  it('omits empty and invalid values', () => {
    expect(
      hashUser({
        email: 'not-an-email',
        phone: '12',
        firstName: '   ',
        lastName: null,
        city: '123',
        zip: '1',
        country: 'Narnia',
        externalId: '',
        ip: 'not-an-ip',
        userAgent: undefined,
      }),
    ).toEqual({});
  });

  it('keeps IPv6 and the first address of a forwarded list', () => {
    expect(hashUser({ ip: '2001:db8::1' }).ip).toBe('2001:db8::1');
    expect(hashUser({ ip: '198.51.100.1, 10.0.0.1' }).ip).toBe('198.51.100.1');
  });
});
