//! The full ELF parse that runs before `dlopen`.
//!
//! `dlopen` maps a file and runs its initialisers before anything could ask whether it is a
//! plugin, and it trusts the file's headers: a file cut short makes it touch pages past the end
//! of the file, and the process dies of SIGBUS. So the loader parses the exact bytes it will
//! hand to `dlopen` (the sealed copy) and refuses anything that is not a complete shared
//! library for this machine that exports our root module.

use object::{
    elf,
    read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym},
    Endianness,
};

/// What [`parse`] found, for the check report.
#[derive(Debug)]
pub(super) struct ElfSummary {
    pub segments: usize,
    pub sections: usize,
}

/// Where the root-module symbol is, for the check report.
#[derive(Debug)]
pub(super) struct RootSymbol {
    pub size: u64,
}

/// Why a file was refused; the loader turns it into a [`super::PluginLoadError`].
#[derive(Debug)]
pub(super) enum ElfRefusal {
    /// No ELF magic: a text file, a script, a library for another OS.
    NotElf,
    /// An ELF, but not a shared library (an executable, an object file, a core dump).
    NotSharedObject(String),
    /// Built for another machine, word size or byte order.
    WrongPlatform(String),
    /// Cut short or inconsistent: some header points outside the file.
    Corrupt(String),
    /// A complete shared library for this machine, but without our root module.
    NoRootModule(String),
}

// Offsets in `e_ident` (the ELF spec's names; object exposes them only as struct fields).
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const EI_NIDENT: usize = 16;

#[cfg(target_pointer_width = "64")]
type HostElf = elf::FileHeader64<Endianness>;
#[cfg(target_pointer_width = "32")]
type HostElf = elf::FileHeader32<Endianness>;

const HOST_CLASS: u8 = if cfg!(target_pointer_width = "64") {
    elf::ELFCLASS64
} else {
    elf::ELFCLASS32
};
const HOST_DATA: u8 = if cfg!(target_endian = "little") {
    elf::ELFDATA2LSB
} else {
    elf::ELFDATA2MSB
};

/// The `e_machine` of code this process can run; `None` where we do not know it (then the
/// machine is not checked and `dlopen` has the last word).
pub(super) const HOST_MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(elf::EM_X86_64)
} else if cfg!(target_arch = "aarch64") {
    Some(elf::EM_AARCH64)
} else if cfg!(target_arch = "x86") {
    Some(elf::EM_386)
} else if cfg!(target_arch = "arm") {
    Some(elf::EM_ARM)
} else if cfg!(any(target_arch = "riscv64", target_arch = "riscv32")) {
    Some(elf::EM_RISCV)
} else if cfg!(target_arch = "powerpc64") {
    Some(elf::EM_PPC64)
} else if cfg!(target_arch = "s390x") {
    Some(elf::EM_S390)
} else if cfg!(target_arch = "loongarch64") {
    Some(elf::EM_LOONGARCH)
} else {
    None
};

/// A machine's usual name, for messages ("built for aarch64, this host is x86_64").
pub(super) fn machine_name(machine: u16) -> String {
    match machine {
        elf::EM_X86_64 => "x86_64".into(),
        elf::EM_AARCH64 => "aarch64".into(),
        elf::EM_386 => "x86 (32-bit)".into(),
        elf::EM_ARM => "arm (32-bit)".into(),
        elf::EM_RISCV => "riscv".into(),
        elf::EM_PPC64 => "powerpc64".into(),
        elf::EM_PPC => "powerpc".into(),
        elf::EM_S390 => "s390x".into(),
        elf::EM_LOONGARCH => "loongarch64".into(),
        elf::EM_MIPS => "mips".into(),
        elf::EM_SPARCV9 => "sparc64".into(),
        other => format!("ELF machine {other}"),
    }
}

/// An ELF word (u32 in ELF32, u64 in ELF64) as u64, for either class of host.
fn word(w: impl Into<u64>) -> u64 {
    w.into()
}

fn corrupt(what: impl Into<String>) -> ElfRefusal {
    ElfRefusal::Corrupt(what.into())
}

/// Checks the identification, the header, every segment and every section of `data`.
pub(super) fn parse(data: &[u8]) -> Result<ElfSummary, ElfRefusal> {
    if data.len() < 4 || data[..4] != elf::ELFMAG {
        return Err(ElfRefusal::NotElf);
    }
    let len = data.len() as u64;
    if data.len() < EI_NIDENT || data.len() < std::mem::size_of::<HostElf>() {
        return Err(corrupt(format!(
            "it is cut short: {len} bytes, less than an ELF header"
        )));
    }
    // The identification first, with our own words: object's parse would only say "unsupported".
    let class = data[EI_CLASS];
    if class != HOST_CLASS {
        let bits = match class {
            elf::ELFCLASS32 => "32-bit",
            elf::ELFCLASS64 => "64-bit",
            _ => "unknown-class",
        };
        return Err(ElfRefusal::WrongPlatform(format!(
            "it is a {bits} library, this host is {}-bit",
            usize::BITS
        )));
    }
    if data[EI_DATA] != HOST_DATA {
        return Err(ElfRefusal::WrongPlatform(format!(
            "it is a {} library, this host is {}",
            match data[EI_DATA] {
                elf::ELFDATA2MSB => "big-endian",
                elf::ELFDATA2LSB => "little-endian",
                _ => "unknown-byte-order",
            },
            if cfg!(target_endian = "little") {
                "little-endian"
            } else {
                "big-endian"
            }
        )));
    }
    let header = HostElf::parse(data).map_err(|e| corrupt(format!("bad ELF header ({e})")))?;
    let endian = header
        .endian()
        .map_err(|e| corrupt(format!("bad ELF header ({e})")))?;
    let machine = header.e_machine(endian);
    if let Some(host) = HOST_MACHINE {
        if machine != host {
            return Err(ElfRefusal::WrongPlatform(format!(
                "it was built for {}, this host is {}",
                machine_name(machine),
                machine_name(host)
            )));
        }
    }
    match header.e_type(endian) {
        elf::ET_DYN => {}
        elf::ET_EXEC => {
            return Err(ElfRefusal::NotSharedObject(
                "it is an executable, not a shared library".into(),
            ))
        }
        elf::ET_REL => {
            return Err(ElfRefusal::NotSharedObject(
                "it is an object file (.o), not a shared library".into(),
            ))
        }
        elf::ET_CORE => {
            return Err(ElfRefusal::NotSharedObject(
                "it is a core dump, not a shared library".into(),
            ))
        }
        other => {
            return Err(ElfRefusal::NotSharedObject(format!(
                "it is an ELF file of type {other}, not a shared library"
            )))
        }
    }

    // Every segment inside the file: the dynamic loader maps them, and a page past the end of
    // the file is the SIGBUS this check exists for.
    let segments = header.program_headers(endian, data).map_err(|_| {
        corrupt(format!(
            "it is cut short: its program header table lies past the end of the file ({len} bytes)"
        ))
    })?;
    let mut loads = 0;
    let mut dynamic = false;
    for (i, ph) in segments.iter().enumerate() {
        let (offset, size): (u64, u64) = (word(ph.p_offset(endian)), word(ph.p_filesz(endian)));
        let end = offset
            .checked_add(size)
            .ok_or_else(|| corrupt(format!("segment {i} has an impossible size")))?;
        if end > len {
            return Err(corrupt(format!(
                "it is cut short: segment {i} ends at byte {end} but the file has {len} bytes"
            )));
        }
        match ph.p_type(endian) {
            elf::PT_LOAD => {
                loads += 1;
                if size > word(ph.p_memsz(endian)) {
                    return Err(corrupt(format!(
                        "segment {i} holds more bytes in the file than in memory"
                    )));
                }
            }
            elf::PT_DYNAMIC => dynamic = true,
            _ => {}
        }
    }
    if loads == 0 || !dynamic {
        return Err(ElfRefusal::NotSharedObject(
            "it has no loadable dynamic segments, so it is not a shared library".into(),
        ));
    }

    // Every section inside the file too: the section header table sits at the very end, so
    // this also catches a copy that lost only its last bytes.
    let sections = header.sections(endian, data).map_err(|_| {
        corrupt(format!(
            "it is cut short: its section header table lies past the end of the file ({len} bytes)"
        ))
    })?;
    for (i, sh) in sections.iter().enumerate() {
        if let Some((offset, size)) = sh.file_range(endian) {
            let end = offset
                .checked_add(size)
                .ok_or_else(|| corrupt(format!("section {i} has an impossible size")))?;
            if end > len {
                return Err(corrupt(format!(
                    "it is cut short: section {i} ends at byte {end} but the file has {len} bytes"
                )));
            }
        }
    }
    Ok(ElfSummary {
        segments: segments.len(),
        sections: sections.len(),
    })
}

/// Finds `name` among the dynamic symbols, as `dlsym` would: defined, global, visible, a data
/// object inside a loaded segment. Only called on data [`parse`] accepted.
pub(super) fn find_root_symbol(data: &[u8], name: &str) -> Result<RootSymbol, ElfRefusal> {
    let header = HostElf::parse(data).map_err(|e| corrupt(format!("bad ELF header ({e})")))?;
    let endian = header
        .endian()
        .map_err(|e| corrupt(format!("bad ELF header ({e})")))?;
    let sections = header
        .sections(endian, data)
        .map_err(|e| corrupt(format!("bad section table ({e})")))?;
    let symbols = sections
        .symbols(endian, data, elf::SHT_DYNSYM)
        .map_err(|e| corrupt(format!("bad dynamic symbol table ({e})")))?;
    let absent = || {
        ElfRefusal::NoRootModule(format!(
            "it is a shared library but not an Apify transport plugin (its dynamic symbol table has no `{name}`)"
        ))
    };
    let sym = symbols
        .iter()
        .find(|s| symbols.symbol_name(endian, s).ok() == Some(name.as_bytes()))
        .ok_or_else(absent)?;
    let problem = if sym.st_shndx(endian) == elf::SHN_UNDEF {
        Some("is not defined in it")
    } else if !matches!(sym.st_bind(), elf::STB_GLOBAL | elf::STB_WEAK) {
        Some("is not global")
    } else if sym.st_visibility() != elf::STV_DEFAULT && sym.st_visibility() != elf::STV_PROTECTED {
        Some("is hidden")
    } else if sym.st_type() != elf::STT_OBJECT {
        Some("is not a data object")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(ElfRefusal::NoRootModule(format!(
            "it is a shared library but not an Apify transport plugin (its `{name}` {problem})"
        )));
    }
    let (value, size): (u64, u64) = (word(sym.st_value(endian)), word(sym.st_size(endian)));
    let segments = header
        .program_headers(endian, data)
        .map_err(|e| corrupt(format!("bad program header table ({e})")))?;
    let inside = segments.iter().any(|ph| {
        let start = word(ph.p_vaddr(endian));
        let memsz = word(ph.p_memsz(endian));
        ph.p_type(endian) == elf::PT_LOAD
            && value >= start
            && value
                .checked_add(size)
                .is_some_and(|end| end <= start.saturating_add(memsz))
    });
    if !inside {
        return Err(corrupt(format!(
            "its `{name}` points outside every loaded segment"
        )));
    }
    Ok(RootSymbol { size })
}
