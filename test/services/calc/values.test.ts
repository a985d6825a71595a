import { describe, expect, it } from 'vitest';
import { calc, value } from './helpers.js';

const PI64 = '3.141592653589793238462643383279502884197169399375105820974944592';
const E64 = '2.718281828459045235360287471352662497757247093699959574966967628';
const SQRT2 = '1.414213562373095048801688724209698078569671875376948073176679738';

describe('calc values', () => {
  it.each([
    // numbers
    ['12', '12'],
    ['1.5', '1.5'],
    ['.5', '0.5'],
    ['1.', '1'],
    ['1e10', '10000000000'],
    ['1.5E-3', '0.0015'],
    ['1.50', '1.5'],
    ['007', '7'],
    // exact decimal arithmetic
    ['0.1+0.2', '0.3'],
    ['0.1*3', '0.3'],
    ['1/3', '0.3333333333333333333333333333333333333333333333333333333333333333'],
    ['2/3', '0.6666666666666666666666666666666666666666666666666666666666666667'],
    ['1/8', '0.125'],
    // precedence and associativity
    ['2+3*4', '14'],
    ['(2+3)*4', '20'],
    ['2*(3+4)', '14'],
    ['10-4-3', '3'],
    ['100/10/5', '2'],
    ['2*3%4', '2'],
    ['2+3^2', '11'],
    ['2*3^2', '18'],
    ['2^3^2', '512'],
    ['(2^3)^2', '64'],
    ['2^-1', '0.5'],
    ['2^-2^2', '0.0625'],
    ['-2^2', '-4'],
    ['(-2)^2', '4'],
    ['-2*-3', '6'],
    ['--2', '2'],
    ['+-+2', '-2'],
    ['-(3)', '-3'],
    ['1 -   -1', '2'],
    ['  \t2\n*\r3  ', '6'],
    ['((((1))))', '1'],
    // modulo: truncated, sign of the dividend
    ['7 % 3', '1'],
    ['-7 % 3', '-1'],
    ['7 % -3', '1'],
    ['7.5 % 2', '1.5'],
    ['1e20 % 7', '2'],
    // powers
    ['2^10', '1024'],
    ['(-8)^3', '-512'],
    ['(-1)^1e999999', '1'],
    ['(-1)^3', '-1'],
    ['0^0', '1'],
    ['0^5', '0'],
    ['4^0.5', '2'],
    ['2^0.5', SQRT2],
    ['1.5^2', '2.25'],
    ['10^-3', '0.001'],
    ['0.5^-3', '8'],
    ['10^1000000', '1e+1000000'],
    // formatting
    ['1e63', '1000000000000000000000000000000000000000000000000000000000000000'],
    ['1e64', '1e+64'],
    ['1.5e70', '1.5e+70'],
    ['1e-7', '1e-7'],
    ['0.000001', '0.000001'],
    ['0.0000001234', '1.234e-7'],
    ['-0', '0'],
    ['0*-1', '0'],
    ['-0.0', '0'],
    ['3-3', '0'],
    [
      '123456789012345678901234567890123456789012345678901234567890123456',
      '1.234567890123456789012345678901234567890123456789012345678901235e+65',
    ],
    [
      '0.12345678901234567890123456789012345678901234567890123456789012345',
      '0.1234567890123456789012345678901234567890123456789012345678901234',
    ],
    [
      '0.12345678901234567890123456789012345678901234567890123456789012355',
      '0.1234567890123456789012345678901234567890123456789012345678901236',
    ],
    // constants
    ['pi', PI64],
    ['e', E64],
    ['2*pi', '6.283185307179586476925286766559005768394338798750211641949889184'],
    // functions
    ['sqrt(16)', '4'],
    ['sqrt(2)', SQRT2],
    ['sqrt(0)', '0'],
    ['sqrt(-0)', '0'],
    ['abs(-3.5)', '3.5'],
    ['abs(2)', '2'],
    ['round(2.5)', '3'],
    ['round(-2.5)', '-3'],
    ['round(2.4)', '2'],
    ['round(0.5)', '1'],
    ['round(-0.4)', '0'],
    ['round(1234.5678, 2)', '1234.57'],
    ['round(1234.5678, -2)', '1200'],
    ['round(5678, -4)', '10000'],
    ['round(1234, -4)', '0'],
    ['round(1234, -5)', '0'],
    ['round(1.005, 2)', '1.01'],
    ['round(1, 1000000)', '1'],
    ['floor(1.5)', '1'],
    ['floor(-1.5)', '-2'],
    ['ceil(1.5)', '2'],
    ['ceil(-1.5)', '-1'],
    ['min(3, 1, 2)', '1'],
    ['max(3, 1, 2)', '3'],
    ['min(5)', '5'],
    ['max(-1, -2)', '-1'],
    ['sin(0)', '0'],
    ['cos(0)', '1'],
    ['tan(0)', '0'],
    ['sin(1)', '0.84147098480789650665250232163029899962256306079837106567275171'],
    ['cos(pi)', '-1'],
    ['sin(pi)', '3.078164062862089986280348253421170679821480865132823066470938446e-64'],
    ['tan(pi/4)', '0.9999999999999999999999999999999999999999999999999999999999999998'],
    ['sin(1e100)', '-0.3723761236612766882620866955531642957196678835674347023644153883'],
    ['log(1000)', '3'],
    ['log(0.01)', '-2'],
    ['log(8, 2)', '3'],
    ['log(2)', '0.3010299956639811952137388947244930267681898814621085413104274611'],
    ['ln(1)', '0'],
    ['ln(e)', '1'],
    ['exp(0)', '1'],
    ['exp(1)', E64],
    // Checked against Python's decimal module (correctly rounded).
    ['exp(-1e6)', '3.29683147808855857896890796910772420856140150665837015964708849e-434295'],
    // variables
    ['x', '3'],
    ['x*2', '6'],
    ['y', '-2.5'],
    ['ans*2', '84'],
    ['big*2', '3e+70'],
    ['tiny', '1e-9'],
    ['third*3', '0.9999999999999999999999999999999999999999999999999999999999999999'],
    ['x^2 + y', '6.5'],
  ])('%s = %s', (expr, expected) => {
    expect(value(expr)).toBe(expected);
  });

  it('tan near its poles keeps every digit', () => {
    // pi/2 rounded to 64 digits is 1.539e-64 below the pole: tan is 1/1.539e-64.
    expect(value('tan(pi/2)')).toBe('6497379474115461951716329620470535697162649240446442238567618820');
    expect(value('tan(-pi/2)')).toBe('-6497379474115461951716329620470535697162649240446442238567618820');
  });

  it('rounds half to even at the precision', () => {
    const limits = { precision: 3, maxLength: 100, maxDepth: 10, maxNodes: 100 };
    expect(calc('1.245', undefined, limits).value).toBe('1.24');
    expect(calc('1.235', undefined, limits).value).toBe('1.24');
    expect(calc('1.2451', undefined, limits).value).toBe('1.25');
    expect(calc('12345', undefined, limits).value).toBe('1.23e+4');
    expect(calc('2/3', undefined, limits).value).toBe('0.667');
  });

  it('applies the precision to every intermediate', () => {
    const limits = { precision: 5, maxLength: 100, maxDepth: 10, maxNodes: 100 };
    // 1/3 rounds to 0.33333 before the multiplication.
    expect(calc('1/3*3', undefined, limits).value).toBe('0.99999');
    expect(calc('10000+0.4', undefined, limits).value).toBe('10000');
    // Past the precision, integers can no longer be exact and print in exponent notation.
    expect(calc('100000+0.4', undefined, limits).value).toBe('1e+5');
  });

  it('returns the assigned name for a top-level assignment', () => {
    expect(calc('x = 3*2')).toEqual({ value: '6', assigned: 'x' });
    expect(calc('  total_2 =x+1 ')).toEqual({ value: '4', assigned: 'total_2' });
    expect(calc('ans = ans + 1')).toEqual({ value: '43', assigned: 'ans' });
    expect(calc(`${'v'.repeat(32)} = 1`)).toEqual({ value: '1', assigned: 'v'.repeat(32) });
    expect(calc('x+1')).toEqual({ value: '4' });
  });

  it('reads names case-sensitively', () => {
    const vars = new Map([
      ['X', '10'],
      ['x', '1'],
    ]);
    expect(value('X+x', vars)).toBe('11');
  });

  it('rounds variable values to the precision and accepts its own output', () => {
    const vars = new Map([
      ['v', '1.23456789'],
      ['w', '-1.5e+70'],
      ['z', '+.5'],
    ]);
    const limits = { precision: 4, maxLength: 100, maxDepth: 10, maxNodes: 100 };
    expect(calc('v', vars, limits).value).toBe('1.235');
    expect(calc('w', vars, limits).value).toBe('-1.5e+70');
    expect(calc('z', vars, limits).value).toBe('0.5');
  });
});
