//! A small, safe evaluator for `bantime.formula` and `bantime.factor`.
//!
//! fail2ban evaluates these options as Python expressions. We accept the arithmetic subset
//! such formulas are written in, with Python's numeric rules (int and float, `/` always gives
//! a float, `//` and `%` floor toward minus infinity, `round` rounds half to even):
//!
//! * numbers: `600`, `1.5`, `.5`, `1e3`, `0x10`; `True`, `False`
//! * names: `ban.Time`, `ban.Count`, `banFactor`, `math.e`, `math.pi`, `math.inf`
//! * operators, by Python precedence: `x if c else y`, `or`, `and`, `not`, comparisons
//!   (`< <= > >= == !=`, chained), `|`, `^`, `&`, `<< >>`, `+ -`, `* / // %`, unary `+ - ~`, `**`
//! * calls: `math.exp log log2 log10 sqrt pow floor ceil fabs`, `min`, `max`, `abs`, `int`,
//!   `float`, `round`, `pow`
//!
//! Anything else (attribute access beyond those names, strings, lambdas, imports) is rejected
//! when the formula is parsed, so a configuration value can never run code.

use std::fmt;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormulaError {
    #[error("bad formula {formula:?} at offset {pos}: {msg}")]
    Parse {
        formula: String,
        pos: usize,
        msg: String,
    },
    #[error("formula {formula:?} cannot be evaluated: {msg}")]
    Eval { formula: String, msg: String },
}

/// A number as Python has it: an integer or a float (booleans act as integers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
    fn truthy(self) -> bool {
        match self {
            Num::Int(i) => i != 0,
            Num::Float(f) => f != 0.0,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// Values a formula may name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vars {
    pub ban_time: Option<Num>,
    pub ban_count: Option<Num>,
    pub ban_factor: Option<Num>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Var {
    Time,
    Count,
    Factor,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Exp,
    Log,
    Log2,
    Log10,
    Sqrt,
    Pow,
    MathPow,
    Floor,
    Ceil,
    Fabs,
    Min,
    Max,
    Abs,
    Int,
    Float,
    Round,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Num(Num),
    Var(Var),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Invert(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Cmp(Box<Expr>, Vec<(CmpOp, Expr)>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IfElse {
        cond: Box<Expr>,
        then: Box<Expr>,
        other: Box<Expr>,
    },
    Call(Func, Vec<Expr>),
}

/// A parsed formula, ready to evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    text: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Num),
    Name(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

const OPS: [&str; 25] = [
    "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "&", "|",
    "^", "~", "(", ")", ",", ".", "[", "]",
];

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, (usize, String)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
                i += 2;
                while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'_') {
                    i += 1;
                }
                let t: String = s[start + 2..i].chars().filter(|c| *c != '_').collect();
                let v = i64::from_str_radix(&t, 16).map_err(|e| (start, e.to_string()))?;
                out.push((start, Tok::Num(Num::Int(v))));
                continue;
            }
            let mut is_float = false;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' {
                is_float = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    is_float = true;
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let t: String = s[start..i].chars().filter(|c| *c != '_').collect();
            let n = if is_float {
                Num::Float(
                    t.parse()
                        .map_err(|_| (start, format!("bad number {t:?}")))?,
                )
            } else {
                match t.parse::<i64>() {
                    Ok(v) => Num::Int(v),
                    Err(_) => Num::Float(
                        t.parse()
                            .map_err(|_| (start, format!("bad number {t:?}")))?,
                    ),
                }
            };
            out.push((start, Tok::Num(n)));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push((start, Tok::Name(s[start..i].to_string())));
            continue;
        }
        match OPS.iter().find(|op| s[i..].starts_with(**op)) {
            Some(&"(") => out.push((start, Tok::LParen)),
            Some(&")") => out.push((start, Tok::RParen)),
            Some(&",") => out.push((start, Tok::Comma)),
            Some(op) if !matches!(*op, "." | "[" | "]") => out.push((start, Tok::Op(op))),
            _ => {
                return Err((
                    start,
                    format!(
                        "unexpected character {:?}",
                        &s[i..].chars().next().unwrap_or(' ')
                    ),
                ))
            }
        }
        i += OPS
            .iter()
            .find(|op| s[i..].starts_with(**op))
            .map_or(1, |op| op.len());
    }
    out.push((s.len(), Tok::End));
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    text: &'a str,
}

type PResult<T> = Result<T, (usize, String)>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].1
    }
    fn at(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].0
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }
    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err((self.at(), msg.into()))
    }

    fn test(&mut self) -> PResult<Expr> {
        let e = self.or_test()?;
        if self.is_kw("if") {
            self.bump();
            let cond = self.or_test()?;
            if !self.is_kw("else") {
                return self.err("expected 'else'");
            }
            self.bump();
            let other = self.test()?;
            return Ok(Expr::IfElse {
                cond: Box::new(cond),
                then: Box::new(e),
                other: Box::new(other),
            });
        }
        Ok(e)
    }
    fn or_test(&mut self) -> PResult<Expr> {
        let mut e = self.and_test()?;
        while self.is_kw("or") {
            self.bump();
            e = Expr::Or(Box::new(e), Box::new(self.and_test()?));
        }
        Ok(e)
    }
    fn and_test(&mut self) -> PResult<Expr> {
        let mut e = self.not_test()?;
        while self.is_kw("and") {
            self.bump();
            e = Expr::And(Box::new(e), Box::new(self.not_test()?));
        }
        Ok(e)
    }
    fn not_test(&mut self) -> PResult<Expr> {
        if self.is_kw("not") {
            self.bump();
            return Ok(Expr::Not(Box::new(self.not_test()?)));
        }
        self.comparison()
    }
    fn comparison(&mut self) -> PResult<Expr> {
        let first = self.bitor()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                _ => break,
            };
            self.bump();
            rest.push((op, self.bitor()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Cmp(Box::new(first), rest)
        })
    }
    fn binary_level(
        &mut self,
        ops: &[(&str, BinOp)],
        next: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut e = next(self)?;
        'outer: loop {
            for (s, op) in ops {
                if self.is_op(s) {
                    self.bump();
                    e = Expr::Bin(*op, Box::new(e), Box::new(next(self)?));
                    continue 'outer;
                }
            }
            return Ok(e);
        }
    }
    fn bitor(&mut self) -> PResult<Expr> {
        self.binary_level(&[("|", BinOp::BitOr)], Self::bitxor)
    }
    fn bitxor(&mut self) -> PResult<Expr> {
        self.binary_level(&[("^", BinOp::BitXor)], Self::bitand)
    }
    fn bitand(&mut self) -> PResult<Expr> {
        self.binary_level(&[("&", BinOp::BitAnd)], Self::shift)
    }
    fn shift(&mut self) -> PResult<Expr> {
        self.binary_level(&[("<<", BinOp::Shl), (">>", BinOp::Shr)], Self::arith)
    }
    fn arith(&mut self) -> PResult<Expr> {
        self.binary_level(&[("+", BinOp::Add), ("-", BinOp::Sub)], Self::term)
    }
    fn term(&mut self) -> PResult<Expr> {
        self.binary_level(
            &[
                ("*", BinOp::Mul),
                ("//", BinOp::FloorDiv),
                ("/", BinOp::Div),
                ("%", BinOp::Mod),
            ],
            Self::factor,
        )
    }
    fn factor(&mut self) -> PResult<Expr> {
        if self.is_op("-") {
            self.bump();
            return Ok(Expr::Neg(Box::new(self.factor()?)));
        }
        if self.is_op("+") {
            self.bump();
            return Ok(Expr::Pos(Box::new(self.factor()?)));
        }
        if self.is_op("~") {
            self.bump();
            return Ok(Expr::Invert(Box::new(self.factor()?)));
        }
        self.power()
    }
    fn power(&mut self) -> PResult<Expr> {
        let base = self.atom()?;
        if self.is_op("**") {
            self.bump();
            // right-associative, binds tighter than a unary minus on its left only
            let exp = self.factor()?;
            return Ok(Expr::Bin(BinOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }
    fn atom(&mut self) -> PResult<Expr> {
        let at = self.at();
        match self.bump() {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::LParen => {
                let e = self.test()?;
                if self.bump() != Tok::RParen {
                    return Err((self.at(), "expected ')'".into()));
                }
                Ok(e)
            }
            Tok::Name(n) => {
                if matches!(self.peek(), Tok::LParen) {
                    let f = func(&n).ok_or((at, format!("unknown function {n:?}")))?;
                    self.bump();
                    let mut args = Vec::new();
                    if !matches!(self.peek(), Tok::RParen) {
                        loop {
                            args.push(self.test()?);
                            if matches!(self.peek(), Tok::Comma) {
                                self.bump();
                                if matches!(self.peek(), Tok::RParen) {
                                    break;
                                }
                                continue;
                            }
                            break;
                        }
                    }
                    if self.bump() != Tok::RParen {
                        return Err((self.at(), "expected ')' after arguments".into()));
                    }
                    check_arity(f, args.len()).map_err(|m| (at, m))?;
                    return Ok(Expr::Call(f, args));
                }
                match n.as_str() {
                    "ban.Time" => Ok(Expr::Var(Var::Time)),
                    "ban.Count" => Ok(Expr::Var(Var::Count)),
                    "banFactor" => Ok(Expr::Var(Var::Factor)),
                    "math.e" => Ok(Expr::Num(Num::Float(std::f64::consts::E))),
                    "math.pi" => Ok(Expr::Num(Num::Float(std::f64::consts::PI))),
                    "math.inf" => Ok(Expr::Num(Num::Float(f64::INFINITY))),
                    "True" => Ok(Expr::Num(Num::Int(1))),
                    "False" => Ok(Expr::Num(Num::Int(0))),
                    _ => Err((at, format!("unknown name {n:?}"))),
                }
            }
            Tok::End => Err((at, "unexpected end".into())),
            t => Err((at, format!("unexpected {t:?}"))),
        }
    }
}

fn func(name: &str) -> Option<Func> {
    Some(match name {
        "math.exp" => Func::Exp,
        "math.log" => Func::Log,
        "math.log2" => Func::Log2,
        "math.log10" => Func::Log10,
        "math.sqrt" => Func::Sqrt,
        "math.pow" => Func::MathPow,
        "pow" => Func::Pow,
        "math.floor" => Func::Floor,
        "math.ceil" => Func::Ceil,
        "math.fabs" => Func::Fabs,
        "min" => Func::Min,
        "max" => Func::Max,
        "abs" => Func::Abs,
        "int" => Func::Int,
        "float" => Func::Float,
        "round" => Func::Round,
        _ => return None,
    })
}

fn check_arity(f: Func, n: usize) -> Result<(), String> {
    let ok = match f {
        Func::Log | Func::Round => (1..=2).contains(&n),
        Func::Pow | Func::MathPow => n == 2,
        Func::Min | Func::Max => n >= 1,
        _ => n == 1,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("wrong number of arguments ({n}) for {f:?}"))
    }
}

fn floor_div_i(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        Some(q - 1)
    } else {
        Some(q)
    }
}

fn py_fmod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 && ((m < 0.0) != (b < 0.0)) {
        m + b
    } else {
        m
    }
}

fn int_of(x: f64) -> Result<Num, String> {
    if !x.is_finite() {
        return Err("cannot convert infinity or NaN to integer".into());
    }
    let t = x.trunc();
    if t.abs() < 9.2e18 {
        Ok(Num::Int(t as i64))
    } else {
        Ok(Num::Float(t))
    }
}

fn round_half_even(x: f64, nd: i64) -> f64 {
    if nd == 0 {
        return x.round_ties_even();
    }
    let p = 10f64.powi(nd.clamp(-300, 300) as i32);
    (x * p).round_ties_even() / p
}

impl Formula {
    /// Parses `text`; rejects anything outside the supported subset.
    pub fn parse(text: &str) -> Result<Formula, FormulaError> {
        let perr = |(pos, msg): (usize, String)| FormulaError::Parse {
            formula: text.to_string(),
            pos,
            msg,
        };
        let toks = lex(text).map_err(perr)?;
        let mut p = Parser { toks, pos: 0, text };
        let expr = p.test().map_err(perr)?;
        if !matches!(p.peek(), Tok::End) {
            return Err(perr((
                p.at(),
                format!("unexpected trailing input in {:?}", p.text),
            )));
        }
        Ok(Formula {
            text: text.to_string(),
            expr,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn eval(&self, vars: &Vars) -> Result<Num, FormulaError> {
        self.ev(&self.expr, vars).map_err(|msg| FormulaError::Eval {
            formula: self.text.clone(),
            msg,
        })
    }

    fn ev(&self, e: &Expr, v: &Vars) -> Result<Num, String> {
        Ok(match e {
            Expr::Num(n) => *n,
            Expr::Var(var) => match var {
                Var::Time => v.ban_time.ok_or("ban.Time is not available here")?,
                Var::Count => v.ban_count.ok_or("ban.Count is not available here")?,
                Var::Factor => v.ban_factor.ok_or("banFactor is not available here")?,
            },
            Expr::Neg(a) => match self.ev(a, v)? {
                Num::Int(i) => i
                    .checked_neg()
                    .map(Num::Int)
                    .unwrap_or(Num::Float(-(i as f64))),
                Num::Float(f) => Num::Float(-f),
            },
            Expr::Pos(a) => self.ev(a, v)?,
            Expr::Invert(a) => match self.ev(a, v)? {
                Num::Int(i) => Num::Int(!i),
                Num::Float(_) => return Err("bad operand type for unary ~: 'float'".into()),
            },
            Expr::Not(a) => Num::Int(!self.ev(a, v)?.truthy() as i64),
            Expr::And(a, b) => {
                let x = self.ev(a, v)?;
                if x.truthy() {
                    self.ev(b, v)?
                } else {
                    x
                }
            }
            Expr::Or(a, b) => {
                let x = self.ev(a, v)?;
                if x.truthy() {
                    x
                } else {
                    self.ev(b, v)?
                }
            }
            Expr::IfElse { cond, then, other } => {
                if self.ev(cond, v)?.truthy() {
                    self.ev(then, v)?
                } else {
                    self.ev(other, v)?
                }
            }
            Expr::Cmp(first, rest) => {
                let mut left = self.ev(first, v)?;
                for (op, re) in rest {
                    let right = self.ev(re, v)?;
                    let ok = match (left, right) {
                        (Num::Int(a), Num::Int(b)) => cmp(op, a.cmp(&b)),
                        (a, b) => match a.as_f64().partial_cmp(&b.as_f64()) {
                            Some(o) => cmp(op, o),
                            None => *op == CmpOp::Ne,
                        },
                    };
                    if !ok {
                        return Ok(Num::Int(0));
                    }
                    left = right;
                }
                Num::Int(1)
            }
            Expr::Bin(op, a, b) => binop(*op, self.ev(a, v)?, self.ev(b, v)?)?,
            Expr::Call(f, args) => {
                let mut xs = Vec::with_capacity(args.len());
                for a in args {
                    xs.push(self.ev(a, v)?);
                }
                call(*f, &xs)?
            }
        })
    }
}

fn cmp(op: &CmpOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Lt => o == Less,
        CmpOp::Le => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::Ge => o != Less,
        CmpOp::Eq => o == Equal,
        CmpOp::Ne => o != Equal,
    }
}

fn binop(op: BinOp, a: Num, b: Num) -> Result<Num, String> {
    use Num::{Float as F, Int as I};
    Ok(match (op, a, b) {
        (BinOp::Add, I(x), I(y)) => x.checked_add(y).map(I).unwrap_or(F(x as f64 + y as f64)),
        (BinOp::Sub, I(x), I(y)) => x.checked_sub(y).map(I).unwrap_or(F(x as f64 - y as f64)),
        (BinOp::Mul, I(x), I(y)) => x.checked_mul(y).map(I).unwrap_or(F(x as f64 * y as f64)),
        (BinOp::Add, x, y) => F(x.as_f64() + y.as_f64()),
        (BinOp::Sub, x, y) => F(x.as_f64() - y.as_f64()),
        (BinOp::Mul, x, y) => F(x.as_f64() * y.as_f64()),
        (BinOp::Div, x, y) => {
            if y.as_f64() == 0.0 {
                return Err("division by zero".into());
            }
            F(x.as_f64() / y.as_f64())
        }
        (BinOp::FloorDiv, I(x), I(y)) => I(floor_div_i(x, y).ok_or("integer division by zero")?),
        (BinOp::FloorDiv, x, y) => {
            if y.as_f64() == 0.0 {
                return Err("float floor division by zero".into());
            }
            F((x.as_f64() / y.as_f64()).floor())
        }
        (BinOp::Mod, I(x), I(y)) => {
            if y == 0 {
                return Err("integer modulo by zero".into());
            }
            let r = x.checked_rem_euclid(y).unwrap_or(0);
            I(if y < 0 && r != 0 { r + y } else { r })
        }
        (BinOp::Mod, x, y) => {
            if y.as_f64() == 0.0 {
                return Err("float modulo".into());
            }
            F(py_fmod(x.as_f64(), y.as_f64()))
        }
        (BinOp::Pow, I(x), I(y)) if y >= 0 => {
            match u32::try_from(y).ok().and_then(|e| x.checked_pow(e)) {
                Some(r) => I(r),
                None => F((x as f64).powf(y as f64)),
            }
        }
        (BinOp::Pow, x, y) => {
            if x.as_f64() == 0.0 && y.as_f64() < 0.0 {
                return Err("0.0 cannot be raised to a negative power".into());
            }
            F(x.as_f64().powf(y.as_f64()))
        }
        (BinOp::Shl | BinOp::Shr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor, I(x), I(y)) => {
            match op {
                BinOp::Shl => {
                    if y < 0 {
                        return Err("negative shift count".into());
                    }
                    match u32::try_from(y)
                        .ok()
                        .filter(|s| *s < 63)
                        .and_then(|s| x.checked_mul(1i64 << s))
                    {
                        Some(r) => I(r),
                        None => F(x as f64 * 2f64.powf(y as f64)),
                    }
                }
                BinOp::Shr => {
                    if y < 0 {
                        return Err("negative shift count".into());
                    }
                    I(if y >= 64 {
                        if x < 0 {
                            -1
                        } else {
                            0
                        }
                    } else {
                        x >> y
                    })
                }
                BinOp::BitAnd => I(x & y),
                BinOp::BitOr => I(x | y),
                _ => I(x ^ y),
            }
        }
        (_, _, _) => {
            return Err("unsupported operand type(s): 'float' in an integer operation".into())
        }
    })
}

fn call(f: Func, xs: &[Num]) -> Result<Num, String> {
    use Num::{Float as F, Int as I};
    let x = xs[0];
    let fx = x.as_f64();
    let dom = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err("math domain error".to_string())
        }
    };
    Ok(match f {
        Func::Exp => {
            let r = fx.exp();
            if r.is_infinite() {
                return Err("math range error".into());
            }
            F(r)
        }
        Func::Log => {
            dom(fx > 0.0)?;
            match xs.get(1) {
                Some(b) => {
                    dom(b.as_f64() > 0.0 && b.as_f64() != 1.0)?;
                    F(fx.ln() / b.as_f64().ln())
                }
                None => F(fx.ln()),
            }
        }
        Func::Log2 => {
            dom(fx > 0.0)?;
            F(fx.log2())
        }
        Func::Log10 => {
            dom(fx > 0.0)?;
            F(fx.log10())
        }
        Func::Sqrt => {
            dom(fx >= 0.0)?;
            F(fx.sqrt())
        }
        Func::Pow => binop(BinOp::Pow, x, xs[1])?,
        // math.pow always answers a float; the builtin keeps ints
        Func::MathPow => F(binop(BinOp::Pow, x, xs[1])?.as_f64()),
        Func::Floor => match x {
            I(i) => I(i),
            F(v) => int_of(v.floor())?,
        },
        Func::Ceil => match x {
            I(i) => I(i),
            F(v) => int_of(v.ceil())?,
        },
        Func::Fabs => F(fx.abs()),
        Func::Abs => match x {
            I(i) => i.checked_abs().map(I).unwrap_or(F((i as f64).abs())),
            F(v) => F(v.abs()),
        },
        Func::Min | Func::Max => {
            // Python keeps the first of equal values (and its type)
            let mut best = x;
            for y in &xs[1..] {
                let better = match f {
                    Func::Min => y.as_f64() < best.as_f64(),
                    _ => y.as_f64() > best.as_f64(),
                };
                if better {
                    best = *y;
                }
            }
            best
        }
        Func::Int => match x {
            I(i) => I(i),
            F(v) => int_of(v)?,
        },
        Func::Float => F(fx),
        Func::Round => match xs.get(1) {
            None => match x {
                I(i) => I(i),
                F(v) => int_of(v.round_ties_even())?,
            },
            Some(nd) => {
                let nd = match nd {
                    I(n) => *n,
                    F(_) => return Err("'float' object cannot be interpreted as an integer".into()),
                };
                match x {
                    I(i) if nd >= 0 => I(i),
                    I(i) => int_of(round_half_even(i as f64, nd))?,
                    F(v) => F(round_half_even(v, nd)),
                }
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str, t: i64, c: i64, f: Num) -> Num {
        Formula::parse(s)
            .unwrap()
            .eval(&Vars {
                ban_time: Some(Num::Int(t)),
                ban_count: Some(Num::Int(c)),
                ban_factor: Some(f),
            })
            .unwrap()
    }

    #[test]
    fn default_formula() {
        let s = "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor";
        assert_eq!(ev(s, 600, 0, Num::Int(1)), Num::Int(600));
        assert_eq!(ev(s, 600, 3, Num::Int(1)), Num::Int(4800));
        assert_eq!(ev(s, 600, 25, Num::Int(1)), Num::Int(600 << 20));
        assert_eq!(ev(s, 600, 2, Num::Float(1.5)), Num::Float(3600.0));
    }

    #[test]
    fn python_numeric_rules() {
        let z = Num::Int(1);
        assert_eq!(ev("7 // 2", 0, 0, z), Num::Int(3));
        assert_eq!(ev("-7 // 2", 0, 0, z), Num::Int(-4));
        assert_eq!(ev("-7 % 3", 0, 0, z), Num::Int(2));
        assert_eq!(ev("7 % -3", 0, 0, z), Num::Int(-2));
        assert_eq!(ev("7 / 2", 0, 0, z), Num::Float(3.5));
        assert_eq!(ev("-2 ** 2", 0, 0, z), Num::Int(-4));
        assert_eq!(ev("2 ** 3 ** 2", 0, 0, z), Num::Int(512));
        assert_eq!(ev("2 ** -1", 0, 0, z), Num::Float(0.5));
        assert_eq!(ev("round(2.5) + round(3.5)", 0, 0, z), Num::Int(6));
        assert_eq!(ev("int(-2.7)", 0, 0, z), Num::Int(-2));
        assert_eq!(ev("1 < 2 < 3", 0, 0, z), Num::Int(1));
        assert_eq!(ev("3 > 2 > 2", 0, 0, z), Num::Int(0));
        assert_eq!(ev("max(1, 1.0)", 0, 0, z), Num::Int(1));
        assert_eq!(ev("0 or 5", 0, 0, z), Num::Int(5));
        assert_eq!(ev("math.floor(2.5) + math.ceil(2.1)", 0, 0, z), Num::Int(5));
        assert_eq!(ev("1e3 + .5 + 0x10", 0, 0, z), Num::Float(1016.5));
    }

    #[test]
    fn rejects_code() {
        for bad in [
            "__import__('os').system('id')",
            "ban.__class__",
            "open('/etc/passwd')",
            "[x for x in ()]",
            "lambda: 1",
            "'a'",
            "1 +",
            "ban.Time; 1",
            "math.exp(1, 2)",
        ] {
            assert!(Formula::parse(bad).is_err(), "{bad} should not parse");
        }
        let f = Formula::parse("1/0").unwrap();
        assert!(f.eval(&Vars::default()).is_err());
        let f = Formula::parse("ban.Time").unwrap();
        assert!(f.eval(&Vars::default()).is_err());
    }
}
