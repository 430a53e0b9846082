"""Writes the fixtures of tests/test_readers.py, generated from one analytic pattern so that
a test can compare every reader with the formula rather than with what a reader once said:

* ``patterns/``: one good file per format (and per variant worth telling apart), all the
  same synthetic scan: Gaussian peaks at silicon's d-spacings on a flat background, 2θ
  20-75° in 0.1° steps at the wavelength the file states (Mo for ``mo-*``), intensities
  whole counts so every format stores them exactly;
* ``bad/``: inputs every reader must refuse with ``PatternReadError``, and
  ``bad/README.md`` listing what is wrong with each.

The binary and zip layouts follow the descriptions cited in ``xrdfast/readers/`` (one module a format family).
Everything is deterministic (fixed zip timestamps, stored members, hash-made noise).

    python tests/data/make_patterns.py           # (re)write the fixtures
    python tests/data/make_patterns.py --check   # exit 1 if a committed file is stale
"""
from __future__ import annotations

import gzip
import hashlib
import math
import struct
import sys
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GOOD_DIR, BAD_DIR = HERE / "patterns", HERE / "bad"

# Å; silicon (a = 5.43088 Å) 111, 220, 311, 400, 331
PEAK_D = (3.13560, 1.92016, 1.63751, 1.35772, 1.24593)
PEAK_HEIGHT = (1000.0, 620.0, 350.0, 90.0, 140.0)  # counts above background
BACKGROUND = 50.0  # counts
CU, CU2 = 1.540593, 1.544414  # Å, Kα1 and Kα2 (Hölzer et al. 1997)
MO = 0.709317  # Å, Mo Kα1
START, STEP, COUNT = 20.0, 0.1, 551  # degrees 2θ: 20.0 .. 75.0


def peak_two_theta(d: float, wavelength: float) -> float:
    """2θ (degrees) of spacing d at a wavelength, by Bragg's law."""
    return 2.0 * math.degrees(math.asin(wavelength / (2.0 * d)))


def analytic(two_theta: np.ndarray, wavelength: float, fwhm: float = 0.3) -> np.ndarray:
    """Counts at 2θ (degrees): Gaussians of FWHM ``fwhm`` at the silicon d-spacings, rounded
    to whole counts so that every format (float32 included) stores them exactly."""
    y = np.full(np.shape(two_theta), BACKGROUND)
    for d, height in zip(PEAK_D, PEAK_HEIGHT):
        if wavelength / (2.0 * d) < 1.0:
            y += height * np.exp(-4.0 * math.log(2.0) * ((two_theta - peak_two_theta(d, wavelength)) / fwhm) ** 2)
    return np.round(y)


def grid(start: float = START, step: float = STEP, count: int = COUNT) -> np.ndarray:
    return start + step * np.arange(count)


X = grid()
Y = analytic(X, CU)
MO_X = grid(8.0, 0.05, 641)  # 8 .. 40 degrees at Mo Kα1
MO_Y = analytic(MO_X, MO, fwhm=0.15)


@dataclass(frozen=True)
class Good:
    """What a good fixture must read as."""

    format: str
    wavelength: float | None  # Å, as the file states it (None: states none)
    wavelength2: float | None
    pattern_wavelength: float = CU  # the wavelength its pattern was computed at
    # the esds it must give: None none, "sqrt" √I as written, "sqrt/2" √(I/2) (counted for
    # 2 s, read as counts per second), "counted" Poisson esds of mixed times and attenuators
    sigma: str | None = None


@dataclass(frozen=True)
class Bad:
    problem: str  # what is wrong, for README.md
    expect: str  # a fragment the error message must contain


GOOD: dict[str, Good] = {}
BAD: dict[str, Bad] = {}


# ----------------------------------------------------------------------------- small helpers

def noise(n: int, seed: str) -> bytes:
    """n reproducible pseudo-random bytes."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return out[:n]


def columns(x: np.ndarray, y: np.ndarray, fmt: str = "{:.2f} {:.0f}", sigma: np.ndarray | None = None) -> str:
    if sigma is None:
        return "".join(fmt.format(a, b) + "\n" for a, b in zip(x, y))
    return "".join(fmt.format(a, b, c) + "\n" for a, b, c in zip(x, y, sigma))


def zipped(members: dict[str, bytes]) -> bytes:
    """A zip with fixed timestamps and stored members, so the bytes never change."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 17, 12, 0, 0)), content)
    return buffer.getvalue()


def cstr(text: str, size: int) -> bytes:
    return text.encode("latin-1")[:size].ljust(size, b"\0")


# ----------------------------------------------------------------------------- XRDML

def xrdml(counts_xml: str, positions_xml: str, extra_points: str = "", intended: str = "K-Alpha 1",
          namespace: str = "http://www.xrdml.com/XRDMeasurement/1.5", root: str = "xrdMeasurements") -> bytes:
    """An XRDML document shaped like a PANalytical Data Collector file."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="{namespace}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="{namespace} {namespace}/XRDMeasurement.xsd" status="Completed">
	<comment>
		<entry>Configuration=Reflection-transmission spinner, Owner=User-1, Creation date=17/05/2024 12:00:00</entry>
		<entry>Goniometer=PW3050/60 (Theta/Theta); Minimum step size 2Theta:0.0001; Minimum step size Omega:0.0001</entry>
	</comment>
	<sample type="To be analyzed">
		<id>Si-640</id>
		<name>silicon, synthetic</name>
	</sample>
	<xrdMeasurement measurementType="Scan" status="Completed" sampleMode="Reflection">
		<usedWavelength intended="{intended}">
			<kAlpha1 unit="Angstrom">1.5405980</kAlpha1>
			<kAlpha2 unit="Angstrom">1.5444260</kAlpha2>
			<kBeta unit="Angstrom">1.3922500</kBeta>
			<ratioKAlpha2KAlpha1>0.5000</ratioKAlpha2KAlpha1>
		</usedWavelength>
		<incidentBeamPath>
			<xRayTube id="1" name="Cu LFF">
				<tension unit="kV">45</tension>
				<current unit="mA">40</current>
				<anodeMaterial>Cu</anodeMaterial>
			</xRayTube>
		</incidentBeamPath>
		<scan appendNumber="0" mode="Continuous" scanAxis="Gonio" status="Completed">
			<header>
				<startTimeStamp>2024-05-17T12:00:00+02:00</startTimeStamp>
				<endTimeStamp>2024-05-17T12:30:00+02:00</endTimeStamp>
				<author><name>User-1</name></author>
				<source><applicationSoftware version="5.5">Data Collector</applicationSoftware></source>
			</header>
			<dataPoints>
{positions_xml}{extra_points}{counts_xml}			</dataPoints>
		</scan>
	</xrdMeasurement>
</{root}>
""".encode()


def start_end(axis: str, a: float, b: float) -> str:
    return (f'				<positions axis="{axis}" unit="deg">\n'
            f"					<startPosition>{a:.4f}</startPosition>\n"
            f"					<endPosition>{b:.4f}</endPosition>\n"
            "				</positions>\n")


def listed(axis: str, values: np.ndarray) -> str:
    return (f'				<positions axis="{axis}" unit="deg">\n'
            f"					<listPositions>{' '.join(f'{v:.4f}' for v in values)}</listPositions>\n"
            "				</positions>\n")


def counts(values: np.ndarray, tag: str = "counts") -> str:
    return f'				<{tag} unit="counts">{" ".join(f"{v:.0f}" for v in values)}</{tag}>\n'


def omega(x: np.ndarray) -> str:
    return start_end("Omega", x[0] / 2, x[-1] / 2)


XRDML_15 = xrdml(counts(2 * Y), start_end("2Theta", X[0], X[-1]) + omega(X),
                 '				<commonCountingTime unit="seconds">2.000</commonCountingTime>\n',
                 intended="K-Alpha")
# v1.0 style: <intensities>, listed positions, per-point counting times and attenuators
_TIME = np.where(np.arange(COUNT) % 2, 2.0, 1.0)
_ATTENUATION = np.where((Y > 500) & (Y % 4 == 0), 4.0, 1.0)
XRDML_10 = xrdml(counts(Y * _TIME / _ATTENUATION, "intensities"), listed("2Theta", X),
                 f'				<beamAttenuationFactors>{" ".join(f"{v:.4f}" for v in _ATTENUATION)}</beamAttenuationFactors>\n'
                 f'				<countingTimes unit="seconds">{" ".join(f"{v:.3f}" for v in _TIME)}</countingTimes>\n',
                 namespace="http://www.xrdml.com/XRDMeasurement/1.0")


# ----------------------------------------------------------------------------- Bruker RAW

def raw_v4(scan_type: str = "Locked Coupled", datum: int = 4, values: np.ndarray = Y,
           record_length: int | None = None, two_theta_record: bool = True) -> bytes:
    """RAW4.00: 61-byte header, metadata records (10 key/value, 30 source), one range."""
    def keyvalue(key: str, value: str) -> bytes:
        body = cstr(value, (len(value) // 4 + 1) * 4)
        return struct.pack("<III", 10, 36 + len(body), 0) + cstr(key, 24) + body

    source = bytearray(120)
    struct.pack_into("<II", source, 0, 30, record_length if record_length is not None else 120)
    struct.pack_into("<5d", source, 72, (2 * 1.5406 + 1.54439) / 3, 1.5406, 1.54439, 1.39222, 0.5)
    source[116:120] = cstr("Cu", 4)
    meta = keyvalue("SAMPLEID", "Si-640 synthetic") + keyvalue("USER", "xrdfast") + bytes(source)
    header = bytearray(61)
    header[0:7] = b"RAW4.00"
    struct.pack_into("<I", header, 8, 1)  # file status: done
    header[12:24] = cstr("05/17/2024", 12)
    header[24:34] = cstr("12:00:00", 10)
    struct.pack_into("<I", header, 56, len(meta))
    axes = b""
    for name, start in (("Theta", X[0] / 2), ("2Theta", X[0])) if two_theta_record else (("Theta", 5.0),):
        record = bytearray(80)
        struct.pack_into("<II", record, 0, 50, 80)
        record[12:36] = cstr(name, 24)
        struct.pack_into("<d", record, 56, start)
        axes += bytes(record)
    rng = bytearray(160)
    struct.pack_into("<I", rng, 0, 160)
    rng[32:56] = cstr(scan_type, 24)
    struct.pack_into("<ddIfffff", rng, 72, X[0], STEP, len(values), 1.0, 0.0, 40.0, 40.0, 0.0)
    struct.pack_into("<d", rng, 112, 1.5406)
    struct.pack_into("<II", rng, 136, datum, len(axes))
    return bytes(header) + meta + bytes(rng) + axes + values.astype("<f4").tobytes()


def raw_v3(ranges: int = 1, header_length: int = 304, steps: int = COUNT, values: np.ndarray = Y) -> bytes:
    """RAW1.01: 712-byte file header, 304-byte range header, 40 bytes of supplements."""
    head = bytearray(712)
    head[0:7] = b"RAW1.01"
    struct.pack_into("<Ii", head, 8, 1, ranges)
    head[16:26] = cstr("05/17/24", 10)
    head[26:36] = cstr("12:00:00", 10)
    head[36:108] = cstr("xrdfast", 72)
    head[326:386] = cstr("Si-640 synthetic", 60)
    struct.pack_into("<f", head, 564, 217.5)  # goniometer radius, mm
    head[608:612] = cstr("Cu", 4)
    struct.pack_into("<5d", head, 616, (2 * 1.5406 + 1.54439) / 3, 1.5406, 1.54439, 1.39222, 0.5)
    struct.pack_into("<f", head, 664, 551.0)
    rng = bytearray(304)
    struct.pack_into("<IIdd", rng, 0, header_length, steps, X[0] / 2, X[0])
    struct.pack_into("<d", rng, 176, STEP)
    struct.pack_into("<f", rng, 192, 1.0)
    struct.pack_into("<II", rng, 224, 40, 40)  # generator kV, mA
    struct.pack_into("<d", rng, 240, 1.5406)
    struct.pack_into("<I", rng, 256, 40)  # supplementary headers follow
    supplement = struct.pack("<II", 200, 40) + bytes(32)
    return bytes(head) + bytes(rng) + supplement + values.astype("<f4").tobytes()


def raw_v2() -> bytes:
    """RAW2: 256-byte file header, 48-byte range header, float32 start and step."""
    head = bytearray(256)
    head[0:4] = b"RAW2"
    struct.pack_into("<H", head, 4, 1)
    head[168:188] = cstr("05/17/24 12:00:00", 20)
    head[188:190] = b"Cu"
    struct.pack_into("<fff", head, 190, 1.5406, 1.54439, 0.5)
    rng = bytearray(64)  # 48 bytes described, padded: xylib requires more than 48
    struct.pack_into("<HH", rng, 0, len(rng), COUNT)
    struct.pack_into("<fff", rng, 8, 1.0, STEP, X[0])
    struct.pack_into("<H", rng, 46, 298)
    return bytes(head) + bytes(rng) + Y.astype("<f4").tobytes()


def raw_v1(step: float = STEP) -> bytes:
    """RAW v1: 'RAW ' then a 156-byte range header including it, float32 counts."""
    rng = bytearray(156)
    rng[0:4] = b"RAW "
    struct.pack_into("<IffI", rng, 4, COUNT, 1.0, step, 0)
    struct.pack_into("<ffff", rng, 24, X[0], -1e6, -1e6, -1e6)  # θ, χ, φ unknown
    rng[40:72] = cstr("Si-640 synthetic", 32)
    struct.pack_into("<ff", rng, 72, 1.5406, 1.54439)
    struct.pack_into("<I", rng, 152, 0)  # no range follows
    return bytes(rng) + Y.astype("<f4").tobytes()


# ----------------------------------------------------------------------------- Bruker BRML

def brml_rawdata(datum_rows: list[str]) -> bytes:
    rows = "".join(f"      <Datum>{row}</Datum>\n" for row in datum_rows)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<RawData xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" AppVersion="5.2.0.1">
  <Identifier><Guid>00000000-0000-0000-0000-000000000001</Guid></Identifier>
  <TimeStampStarted>2024-05-17T12:00:00</TimeStampStarted>
  <DataRoutes>
    <DataRoute RouteFlag="Final">
      <ScanInformation ScanName="Coupled TwoTheta/Theta" VisibleName="Coupled TwoTheta/Theta">
        <ScanMode>ContinuousScan</ScanMode>
        <TimePerStep>2</TimePerStep>
        <TimePerStepEffective>2</TimePerStepEffective>
        <MeasurementPoints>{len(datum_rows)}</MeasurementPoints>
        <ScanAxes>
          <ScanAxisInfo AxisId="TwoTheta" AxisName="TwoTheta" Unit="°"><Start>20</Start><Stop>75</Stop><Increment>0.1</Increment></ScanAxisInfo>
          <ScanAxisInfo AxisId="Theta" AxisName="Theta" Unit="°"><Start>10</Start><Stop>37.5</Stop><Increment>0.05</Increment></ScanAxisInfo>
        </ScanAxes>
      </ScanInformation>
      <DataViews>
        <RawDataView xsi:type="RecordedVisibleDataView" Start="0" Length="1" LogicName="MeasuredTime" />
        <RawDataView xsi:type="RecordedVisibleDataView" Start="2" Length="1" LogicName="TwoTheta" />
        <RawDataView xsi:type="RecordedVisibleDataView" Start="4" Length="1" LogicName="Counter1D" />
      </DataViews>
{rows}    </DataRoute>
  </DataRoutes>
  <FixedInformation>
    <Instrument>
      <PrimaryTracks>
        <TrackInfoData>
          <MountedOptics>
            <InfoData xsi:type="Tube">
              <TubeMaterial>Cu</TubeMaterial>
              <WaveLengthAlpha1 Value="1.5406" Unit="Å" />
              <WaveLengthAlpha2 Value="1.54439" Unit="Å" />
              <WaveLengthBeta Value="1.39222" Unit="Å" />
              <WaveLengthRatio Value="0.5" />
            </InfoData>
          </MountedOptics>
        </TrackInfoData>
      </PrimaryTracks>
    </Instrument>
  </FixedInformation>
</RawData>
""".encode()


BRML_ROWS = [f"2,1,{x:.4f},{x / 2:.4f},{2 * y:.0f}" for x, y in zip(X, Y)]
BRML_CONTAINER = b'<?xml version="1.0" encoding="utf-8"?>\n<DataContainer><RawDataReferenceList><string>Experiment0/RawData0.xml</string></RawDataReferenceList></DataContainer>\n'


def brml(rawdata: bytes | None) -> bytes:
    members = {"DataContainer.xml": BRML_CONTAINER}
    if rawdata is not None:
        members["Experiment0/RawData0.xml"] = rawdata
    return zipped(members)


# ----------------------------------------------------------------------------- Rigaku

def ras(body: str, target: str = "Cu", wavelengths: bool = True, wave_type: str = "Ka",
        axis: str = "TwoThetaTheta", end: bool = True) -> bytes:
    lines = ["*RAS_DATA_START", "*RAS_HEADER_START", '*FILE_COMMENT ""', '*FILE_OPERATOR "xrdfast"',
             '*FILE_SAMPLE "Si-640 synthetic"', f'*HW_XG_TARGET_NAME "{target}"']
    if wavelengths:
        lines += ['*HW_XG_WAVE_LENGTH_ALPHA1 "1.540593"', '*HW_XG_WAVE_LENGTH_ALPHA2 "1.544414"',
                  '*HW_XG_WAVE_LENGTH_BETA "1.392250"', '*HW_XG_WAVE_LENGTH_UNIT "Angstrom"']
    lines += [f'*MEAS_COND_XG_WAVE_TYPE "{wave_type}"', '*MEAS_COND_XG_VOLTAGE "40"',
              '*MEAS_COND_XG_CURRENT "30"', f'*MEAS_SCAN_AXIS_X "{axis}"', '*MEAS_SCAN_MODE "CONTINUOUS"',
              '*MEAS_SCAN_SPEED "10.0000"', '*MEAS_SCAN_SPEED_UNIT "deg/min"', '*MEAS_SCAN_UNIT_X "deg"',
              '*MEAS_SCAN_UNIT_Y "counts"', "*RAS_HEADER_END", "*RAS_INT_START"]
    tail = ["*RAS_INT_END", "*RAS_DATA_END"] if end else []
    return ("\r\n".join(lines) + "\r\n" + body.replace("\n", "\r\n") + "\r\n".join(tail)
            + ("\r\n" if tail else "")).encode("latin-1")


RAS_BODY = columns(X, Y, "{:.4f} {:.0f} 1.0000")
MO_RAS_BODY = columns(MO_X, MO_Y, "{:.4f} {:.0f} 1.0000")
_RASX_ATTENUATION = np.where(Y > 500, 2.0, 1.0)
RASX_PROFILE = ("\ufeff" + columns(X, Y / _RASX_ATTENUATION, "{:.4f}\t{:g}\t{:.4f}", _RASX_ATTENUATION)).encode()
RASX_CONDITIONS = b"""<?xml version="1.0" encoding="utf-8"?>
<MeasurementConditions>
  <GeneralInformation><SampleName>Si-640 synthetic</SampleName><Operator>xrdfast</Operator></GeneralInformation>
  <HWConfigurations>
    <XrayGenerator>
      <TargetName>Cu</TargetName><WaveType>Ka1</WaveType>
      <Voltage>40</Voltage><VoltageUnit>kV</VoltageUnit><Current>30</Current><CurrentUnit>mA</CurrentUnit>
      <WavelengthKalpha1>1.540593</WavelengthKalpha1><WavelengthKalpha2>1.544414</WavelengthKalpha2><WavelengthKbeta>1.392250</WavelengthKbeta>
    </XrayGenerator>
  </HWConfigurations>
  <ScanInformation><AxisName>TwoThetaTheta</AxisName><Mode>CONTINUOUS</Mode><Start>20</Start><Stop>75</Stop><Step>0.1</Step><IntensityUnit>counts</IntensityUnit></ScanInformation>
</MeasurementConditions>
"""


def rasx(profile: bytes | None, conditions: bytes = RASX_CONDITIONS) -> bytes:
    members = {"Data0/MesurementConditions0.xml": conditions}
    if profile is not None:
        members["Data0/Profile0.txt"] = profile
    members["Root.xml"] = b'<?xml version="1.0" encoding="utf-8"?><Root><DataCount>1</DataCount></Root>\n'
    return zipped(members)


# ----------------------------------------------------------------------------- GSAS

def gsas_std(free_format: bool = False) -> bytes:
    lines = ["Si-640 synthetic, Cu Ka1 (STD)".ljust(80),
             "Instrument parameter file: cu-bragg-brentano.prm".ljust(80),
             f"BANK 1 {COUNT} {math.ceil(COUNT / 10)} CONST {X[0] * 100:.2f} {STEP * 100:.2f} 0 0 STD".ljust(80)
             if not free_format else f"BANK 1 {COUNT} {math.ceil(COUNT / 10)} CONST {X[0] * 100:.0f} {STEP * 100:.0f}"]
    values = [int(v) for v in Y]
    for k in range(0, COUNT, 10):
        chunk = values[k:k + 10]
        if free_format:  # as Jade and some converters write it
            lines.append(" ".join(str(v) for v in chunk))
        else:
            lines.append("".join(f"  {v:6d}" for v in chunk + [0] * (10 - len(chunk))).ljust(80))
    return ("\r\n".join(lines) + "\r\n").encode()


def gsas_esd() -> bytes:
    lines = ["Si-640 synthetic, Cu Ka1 (ESD)".ljust(80),
             f"BANK 1 {COUNT} {math.ceil(COUNT / 5)} CONST {X[0] * 100:.2f} {STEP * 100:.2f} 0 0 ESD".ljust(80)]
    pairs = [(v, math.sqrt(v)) for v in Y]
    for k in range(0, COUNT, 5):
        lines.append("".join(f"{a:8.0f}{b:8.2f}" for a, b in pairs[k:k + 5]).ljust(80))
    return ("\r\n".join(lines) + "\r\n").encode()


def gsas_fxye(count: int = COUNT, bank: str | None = None) -> bytes:
    lines = ["Si-640 synthetic, Cu Ka1 (FXYE)", "# Note: 2theta in centidegrees",
             bank or f"BANK 1 {COUNT} {COUNT} CONST {X[0] * 100:.2f} {STEP * 100:.2f} 0 0 FXYE"]
    lines += [f"{x * 100:14.4f} {y:14.1f} {math.sqrt(y):14.5f}" for x, y in zip(X[:count], Y[:count])]
    return ("\n".join(lines) + "\n").encode()


# ----------------------------------------------------------------------------- powder CIF

def cif_loop(values: list[str] | None = None) -> bytes:
    cells = values if values is not None else [f"{x:.2f} {y:.0f}({round(math.sqrt(y))})" for x, y in zip(X, Y)]
    return ("""# pdCIF written by tests/data/make_patterns.py
data_si640_synthetic
_pd_block_id   2024-05-17|Si640|xrdfast
_diffrn_radiation_type   'Cu K\\a'
loop_
_diffrn_radiation_wavelength_id
_diffrn_radiation_wavelength
_diffrn_radiation_wavelength_wt
1 1.540593 1.0
2 1.544414 0.5
_pd_meas_number_of_points   551
loop_
_pd_meas_2theta_scan
_pd_meas_counts_total
""" + "\n".join(cells) + "\n").encode()


def cif_range(maximum: float = 75.0, extra: str = "") -> bytes:
    return (f"""data_si640_range
_diffrn_radiation_wavelength   1.540593
_pd_meas_2theta_range_min   20.00
_pd_meas_2theta_range_max   {maximum:.2f}
_pd_meas_2theta_range_inc   0.10
{extra}loop_
_pd_proc_intensity_total
""" + "\n".join(f"{y:.0f}" for y in Y) + "\n").encode()


STRUCTURE_CIF = b"""data_NaCl
_cell_length_a 5.6402
_cell_length_b 5.6402
_cell_length_c 5.6402
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""


# ----------------------------------------------------------------------------- the good files

def good_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}

    def add(name: str, content: bytes, expect: Good) -> None:
        files[name] = content
        GOOD[name] = expect

    header = "# Si-640, synthetic scan written by tests/data/make_patterns.py\n# 2theta(deg) counts\n"
    add("cu-gaussians.xy", (header + columns(X, Y)).encode(), Good("xy", None, None))
    add("cu-gaussians-wavelength-header.xye",
        ("# Si-640 synthetic\n# Wavelength = 1.540593 A\n2theta intensity esd\n"
         + columns(X, Y, "{:.3f} {:.1f} {:.4f}", np.sqrt(Y))).encode(),
        Good("xy", CU, None, sigma="sqrt"))
    add("cu-gaussians-header-row.csv", ("two_theta,intensity\n" + columns(X, Y, "{:.2f},{:.0f}")).encode(),
        Good("xy", None, None))
    add("cu-gaussians-semicolon-decimal-comma.txt",
        ("Probe: Si-640\r\nGerät: synthetisch\r\nWinkel;Intensität\r\n"
         + columns(X, Y, "{:.2f};{:.0f}").replace(".", ",").replace("\n", "\r\n")).encode("cp1252"),
        Good("xy", None, None))
    add("cu-gaussians-descending-tabs.dat",
        ("! Si-640 synthetic, descending scan\n; tab separated\n"
         + columns(X[::-1], Y[::-1], "{:.2f}\t{:.0f}")).encode(), Good("xy", None, None))
    add("cu-gaussians-v1.5-counts.xrdml", XRDML_15, Good("xrdml", 1.540598, 1.544426, sigma="sqrt/2"))
    add("cu-gaussians-v1.0-listpositions-attenuated.xrdml", XRDML_10,
        Good("xrdml", 1.540598, None, sigma="counted"))
    add("cu-gaussians-v4.raw", raw_v4(), Good("raw", 1.5406, 1.54439))
    add("cu-gaussians-v3.raw", raw_v3(), Good("raw", 1.5406, 1.54439))
    add("cu-gaussians-v2.raw", raw_v2(), Good("raw", 1.5406, 1.54439))
    add("cu-gaussians-v1.raw", raw_v1(), Good("raw", 1.5406, 1.54439))
    add("cu-gaussians.brml", brml(brml_rawdata(BRML_ROWS)), Good("brml", 1.5406, 1.54439, sigma="sqrt/2"))
    add("cu-gaussians-ka-doublet.ras", ras(RAS_BODY), Good("ras", CU, CU2))
    add("mo-gaussians-target-name-only.ras", ras(MO_RAS_BODY, target="Mo", wavelengths=False, wave_type="Ka1"),
        Good("ras", MO, None, pattern_wavelength=MO))
    add("cu-gaussians-attenuated.rasx", rasx(RASX_PROFILE), Good("rasx", CU, None))
    add("cu-gaussians-std.gsa", gsas_std(), Good("gsas", None, None, sigma="sqrt"))
    add("cu-gaussians-std-free-format.gsa", gsas_std(free_format=True), Good("gsas", None, None, sigma="sqrt"))
    add("cu-gaussians-esd.gsa", gsas_esd(), Good("gsas", None, None, sigma="sqrt"))
    add("cu-gaussians.fxye", gsas_fxye(), Good("gsas", None, None, sigma="sqrt"))
    calibrated = gsas_fxye().split(b"\n")
    calibrated.insert(1, b"# Calibrated wavelength = 1.540593")  # as 11-BM and GSAS-II write it
    add("cu-gaussians-calibrated-wavelength.fxye", b"\n".join(calibrated), Good("gsas", CU, None, sigma="sqrt"))
    add("cu-gaussians-loop-with-esd.cif", cif_loop(), Good("cif", CU, CU2, sigma="sqrt"))
    add("cu-gaussians-2theta-range.cif", cif_range(), Good("cif", CU, None))
    return files


# ----------------------------------------------------------------------------- the bad files

def bad_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}

    def add(name: str, content: bytes, problem: str, expect: str) -> None:
        files[name] = content
        BAD[name] = Bad(problem, expect)

    xy = columns(X, Y)
    rows = xy.splitlines(keepends=True)

    def edited(index: int, line: str) -> bytes:
        out = list(rows)
        out[index] = line
        return "".join(out).encode()

    # --- text columns
    add("empty.xy", b"", "empty file", "no data")
    add("whitespace-only.xy", b"   \n\t\n  \r\n", "only blanks and newlines", "no data")
    add("comments-only.xy", b"# Si-640\n# 2theta counts\n! nothing was measured\n", "comment lines only", "no data")
    add("header-only.csv", b"two_theta,intensity\n", "a header row and no data", "no data")
    add("single-point.xy", b"# one step\n28.44 1050\n", "one data point", "only one data point")
    add("one-column.xy", "".join(f"{v:.0f}\n" for v in Y[:20]).encode(), "intensities without 2θ",
        "expected 2 or 3 numeric columns")
    add("four-columns.xy", "".join(f"{a:.2f} {b:.0f} {math.sqrt(b):.2f} 1.0\n" for a, b in zip(X[:20], Y[:20])).encode(),
        "four numeric columns (ambiguous: which is the esd?)", "got 4")
    add("ragged-columns.xy", edited(30, f"{X[30]:.2f} {Y[30]:.0f} 7.1\n"), "line 31 has 3 columns, the rest 2",
        "line 31: expected 2 numeric columns like line 1")
    add("text-in-numeric-column.xy", edited(16, "abc def\n"), "'abc def' on line 17", "line 17")
    add("nan-intensity.xy", edited(40, f"{X[40]:.2f} nan\n"), "NaN intensity on line 41", "line 41: intensity is nan")
    add("inf-two-theta.xy", edited(5, f"inf {Y[5]:.0f}\n"), "infinite 2θ on line 6", "line 6: 2θ is inf")
    add("overflow-value.xy", edited(9, f"{X[9]:.2f} 1e400\n"), "an intensity that overflows to inf (line 10)",
        "line 10: intensity is inf")
    add("negative-two-theta.xy", columns(X - 21.0, Y).encode(), "2θ starts at -1°", "outside (0°, 180°)")
    add("two-theta-over-180.xy", columns(X + 110.0, Y).encode(), "2θ runs to 185°", "outside (0°, 180°)")
    add("two-theta-zero.xy", columns(X - 20.0, Y).encode(), "2θ starts at exactly 0°", "line 1: 2θ = 0°")
    add("non-monotonic.xy", edited(100, f"{X[98]:.2f} {Y[100]:.0f}\n"), "2θ steps back on line 101",
        "line 101: 2θ = 29.8° after 29.9°")
    add("duplicate-two-theta.xy", edited(50, f"{X[49]:.2f} {Y[50]:.0f}\n"), "line 51 repeats the angle of line 50",
        "line 51: 2θ = 24.9° repeats")
    add("all-zero-intensity.xy", columns(X, 0 * Y).encode(), "every intensity is 0", "all zero")
    add("all-negative-intensity.xy", columns(X, -Y).encode(), "every intensity is negative", "all ≤ 0")
    add("mostly-negative-intensity.xy", columns(X, np.where(Y > 200, -Y, 5.0)).encode(),
        "peaks point down: the minimum is far more negative than the maximum is positive", "more negative")
    add("binary-garbage.xy", noise(2048, "garbage"), "random bytes", "binary data")
    add("png-named.xy", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + noise(300, "png"), "a PNG image named .xy", "PNG")
    add("nul-byte-in-text.xy", edited(4, f"{X[4]:.2f}\x00{Y[4]:.0f}\n"), "a NUL byte on line 5",
        "line 5: byte 0x00")
    add("utf16-encoded.xy", xy.encode("utf-16"), "UTF-16 text (NUL bytes between characters)", "UTF-16")
    add("gzip-compressed.xy", gzip.compress(xy.encode(), mtime=0), "a gzip-compressed .xy", "gzip")
    add("high-bytes-not-utf8.xy", bytes(0x80 + (b % 0x80) for b in noise(1500, "latin")),
        "bytes 0x80-0xff only: neither UTF-8 nor text", "not UTF-8")
    add("truncated-line.xy", (xy[: xy.index(rows[200]) + 3]).encode(), "cut in the middle of line 201",
        "line 201: expected 2 numeric columns like line 1")
    add("text-after-data.csv", (columns(X, Y, "{:.2f},{:.0f}") + "END OF DATA\n").encode(),
        "a text line after the data", f"line {COUNT + 1}")
    add("thousands-separator.csv", "".join(f"{a:.2f},{int(b) // 1000},{int(b) % 1000:03d}\n" if b >= 1000 else
                                           f"{a:.2f},{b:.0f},0\n" for a, b in zip(X, 10 * Y)).encode(),
        "'20.00,1,050': a thousands separator or a third column? (ambiguous)", "thousands separator")
    add("thousands-point-decimal-comma.txt", "".join(f"{a:.2f};{b:,.0f}\n".replace(".", ",").replace(",", ".", 0)
                                                     .replace(f"{b:,.0f}".replace(".", ","), f"{b:,.0f}".replace(",", "."))
                                                     for a, b in zip(X, 10 * Y)).encode(),
        "decimal commas beside '1.050': a decimal point or a thousands separator? (ambiguous)", "thousands separator")
    add("huge-intensity.xy", edited(12, f"{X[12]:.2f} 1e307\n"),
        "an intensity of 1e307 on line 13 (finite, but sums of it overflow)", "line 13: intensity is 1e+307")
    add("utf32-encoded.xy", xy.encode("utf-32"), "UTF-32 text", "UTF-32")
    add("negative-esd.xye", "".join(f"{a:.2f} {b:.0f} {(-1 if i == 7 else 1) * math.sqrt(b):.2f}\n"
                                    for i, (a, b) in enumerate(zip(X, Y))).encode(),
        "a negative esd on line 8", "line 8: esd is")

    # --- XRDML
    add("malformed.xrdml", XRDML_15.replace(b"</sample>", b"</samples>"), "mismatched tags", "not well-formed XML")
    add("truncated.xrdml", XRDML_15[: len(XRDML_15) // 2], "cut in half", "not well-formed XML")
    no_counts = XRDML_15.replace(counts(2 * Y).encode(), b"")
    add("missing-counts.xrdml", no_counts, "<dataPoints> without <counts>", "neither <counts> nor <intensities>")
    add("mismatched-lengths.xrdml", xrdml(counts(Y[:-1]), listed("2Theta", X)),
        "551 listPositions for 550 counts", "<listPositions> has 551 values but <counts> has 550")
    add("counting-times-mismatch.xrdml",
        xrdml(counts(Y), start_end("2Theta", X[0], X[-1]),
              f'				<countingTimes unit="seconds">{" 1.0" * 10}</countingTimes>\n'),
        "10 counting times for 551 counts", "<countingTimes> has 10 values")
    add("attenuation-mismatch.xrdml",
        xrdml(counts(Y), start_end("2Theta", X[0], X[-1]),
              "				<beamAttenuationFactors>1 1 1</beamAttenuationFactors>\n"),
        "3 attenuation factors for 551 counts", "<beamAttenuationFactors> has 3 values")
    bad_counts = '				<counts unit="counts">12 34 x3 56</counts>\n'
    add("bad-number.xrdml", xrdml(bad_counts, start_end("2Theta", 20, 20.3)), "'x3' among the counts",
        "<counts> value 3 is 'x3'")
    add("empty-counts.xrdml", xrdml('				<counts unit="counts"></counts>\n', start_end("2Theta", 20, 75)),
        "an empty <counts>", "is empty")
    add("omega-only.xrdml", xrdml(counts(Y), omega(X)), "a rocking curve: no 2Theta axis", "no scan has")
    fixed = ('				<positions axis="2Theta" unit="deg"><commonPosition>40.0000</commonPosition></positions>\n'
             + omega(X))
    add("fixed-2theta.xrdml", xrdml(counts(Y), fixed), "2θ fixed (commonPosition), omega scanned", "2θ is fixed")
    add("wrong-root.xrdml", b'<?xml version="1.0"?>\n<html><body>not a measurement</body></html>\n',
        "well-formed XML that is not XRDML", "root element is <html>")
    add("zip-named.xrdml", zipped({"readme.txt": b"not a measurement\n"}), "a zip archive named .xrdml",
        "the content is a zip archive")
    add("doctype-entities.xrdml",
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
        b"<xrdMeasurements>&lol2;</xrdMeasurements>\n", "a DTD with entity expansion (billion laughs)", "DOCTYPE")
    add("utf16-no-bom-doctype.xrdml",
        ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n'
         "<xrdMeasurements>&lol2;</xrdMeasurements>\n").encode("utf-16-le"),
        "a DTD with entities in UTF-16 without a byte-order mark (passes a byte search for <!DOCTYPE)", "DOCTYPE")
    add("single-point.xrdml", xrdml('				<counts unit="counts">120</counts>\n', start_end("2Theta", 20, 20)),
        "one step", "only one data point")
    add("zero-counting-time.xrdml",
        xrdml(counts(Y), start_end("2Theta", X[0], X[-1]),
              '				<commonCountingTime unit="seconds">0</commonCountingTime>\n'),
        "a counting time of 0 s", "counting time is ≤ 0")

    # --- Bruker RAW
    good_v4, good_v3 = raw_v4(), raw_v3()
    add("bad-magic.raw", b"RAW9.99" + bytes(700), "an unknown RAW generation 'RAW9.99'", "b'RAW9.99' is not supported")
    add("not-raw-binary.raw", noise(1024, "raw"), "random bytes named .raw", "neither Bruker RAW")
    add("xrdml-content.raw", XRDML_15, "an XRDML document named .raw", "its content is PANalytical XRDML")
    add("xy-content.raw", xy.encode(), "a column file named .raw", "neither Bruker RAW")
    add("empty.raw", b"", "empty file", "no data")
    add("v4-truncated-header.raw", good_v4[:40], "RAW4.00 cut inside its 61-byte header", "truncated")
    add("v4-truncated-data.raw", good_v4[:-1000], "RAW4.00 missing its last 250 counts", "truncated: range 1 counts")
    add("v4-zero-length-record.raw", raw_v4(record_length=0), "a metadata record of length 0 (would loop forever)",
        "has length 0")
    add("v4-rocking-curve.raw", raw_v4(scan_type="Rocking Curve", two_theta_record=False), "an omega rocking curve",
        "'Rocking Curve' scan")
    add("v4-two-byte-points.raw", raw_v4(datum=2), "2-byte points, not float32", "2 bytes per point")
    add("v4-nan-counts.raw", raw_v4(values=np.where(np.arange(COUNT) == 10, np.nan, Y)), "a NaN count at step 11",
        "point 11: intensity is nan")
    add("v3-truncated-range-header.raw", good_v3[:812], "RAW1.01 cut inside the range header", "truncated")
    add("v3-huge-step-count.raw", raw_v3(steps=2**31), "a range declaring 2^31 steps", "declares 2147483648 steps")
    add("v3-bad-header-length.raw", raw_v3(header_length=200), "a range header length of 200 (RAW1.01 has 304)",
        "304 bytes")
    add("v3-zero-ranges.raw", raw_v3(ranges=0), "a file header declaring 0 ranges", "0 ranges")
    add("v2-truncated.raw", raw_v2()[:400], "RAW2 missing most of its counts", "truncated")
    add("v1-zero-step.raw", raw_v1(step=0.0), "a step of 0°", "non-zero step")

    # --- Bruker BRML
    good_brml = brml(brml_rawdata(BRML_ROWS))
    add("no-rawdata.brml", brml(None), "a zip without Experiment0/RawData0.xml", "no Experiment*/RawData*.xml")
    add("truncated.brml", good_brml[: len(good_brml) // 2], "the zip cut in half", "damaged or truncated")
    add("malformed-rawdata.brml", brml(brml_rawdata(BRML_ROWS).replace(b"</DataRoutes>", b"")),
        "RawData0.xml with an unclosed element", "not well-formed XML")
    add("no-datum.brml", brml(brml_rawdata([])), "a DataRoute without <Datum> rows", "no <DataRoute> with <Datum>")
    add("short-datum.brml", brml(brml_rawdata(["2,1,20.0000"] * 3)), "Datum rows of 3 values",
        "<Datum> 1 is '2,1,20.0000'")
    add("text-datum.brml", brml(brml_rawdata(["a,b,c,d,e"] * 3)), "Datum rows of words", "expected at least 5")
    add("still-frame.brml", brml(brml_rawdata([",".join(["1"] * 40)])), "one Datum holding a fixed-detector frame",
        "still")
    add("text-named.brml", xy.encode(), "a column file named .brml", "not a readable zip archive")

    # --- Rigaku RAS / RASX
    add("no-data-section.ras", ras("", end=False).replace(b"*RAS_INT_START\r\n", b""), "a header and no data",
        "no *RAS_INT_START")
    add("unterminated-data.ras", ras(RAS_BODY[:3000], end=False), "cut before *RAS_INT_END", "no *RAS_INT_END")
    add("bad-data-line.ras", ras(RAS_BODY.replace(RAS_BODY.splitlines()[5], "30.0000 ### 1.0000")),
        "'###' among the counts", "expected 3 numeric columns")
    add("rocking-curve.ras", ras(RAS_BODY, axis="Omega"), "an omega scan", "scan axis is 'Omega'")
    add("empty-data-section.ras", ras(""), "*RAS_INT_START directly followed by *RAS_INT_END", "holds no points")
    add("no-profile.rasx", rasx(None), "a zip without Data0/Profile0.txt", "no Data0/Profile0.txt")
    good_rasx = rasx(RASX_PROFILE)
    add("truncated.rasx", good_rasx[: len(good_rasx) // 3], "the zip cut to a third", "damaged or truncated")
    add("bad-profile.rasx", rasx(b"20.0\t100\t1\n20.1\t110\t1\n20.2\tlots\t1\n"), "'lots' on line 3 of the profile",
        "[Data0/Profile0.txt], line 3")
    add("binary-profile.rasx", rasx(noise(512, "profile")), "random bytes as the profile", "binary data")
    add("brml-content.rasx", good_brml, "a BRML archive named .rasx", "pass format='brml'")
    add("raw-content.ras", good_v4, "a RAW4.00 file named .ras", "the content is Bruker RAW")

    # --- GSAS
    add("no-bank.gsa", b"Si-640 synthetic\n" + "".join(f"{v:8.0f}" for v in Y[:10]).encode() + b"\n",
        "no BANK line", "no BANK line")
    add("bad-bank-line.gsa", gsas_fxye(bank="BANK one 551 551 CONST"), "a BANK line whose numbers are words",
        "line 3: expected 'BANK ibank")
    add("tof-ralf.gsa", gsas_fxye(bank="BANK 1 551 551 RALF 48008 64 64331 0.0010 FXYE"),
        "time-of-flight (RALF) binning", "RALF binning")
    add("alt-records.gsa", gsas_fxye(bank=f"BANK 1 {COUNT} 138 CONST 2000 10 0 0 ALT"),
        "ALT records (the time-of-flight RALF layout) declared for a CONST bank", "ALT records")
    add("truncated.fxye", gsas_fxye(count=300), "551 points declared, 300 present", "the file is truncated")
    add("bad-value.fxye", gsas_fxye().replace(b"\n" + gsas_fxye().splitlines()[10] + b"\n", b"\n   2100.0000  n/a  1.0\n"),
        "'n/a' in a data line", "line 11: expected 3 numbers")
    add("zero-step.gsa", gsas_std().replace(b"CONST 2000.00 10.00", b"CONST 2000.00  0.00"),
        "CONST step of 0 centidegrees", "repeats the previous point")
    add("missing-start-step.gsa", gsas_std().replace(b"CONST 2000.00 10.00 0 0 STD", b"CONST STD".ljust(27)),
        "a CONST bank without start and step", "needs start and step")
    std = gsas_std().split(b"\r\n")
    std[5] = b"  hello world".ljust(80)
    add("bad-std-record.gsa", b"\r\n".join(std), "words in a STD record", "line 6: expected STD intensities")

    # --- powder CIF
    add("malformed.cif", b"data_bad\n_pd_block_id 'unterminated\n", "an unterminated quoted string",
        "not valid CIF syntax (line 2")
    add("structure-only.cif", STRUCTURE_CIF, "a crystal structure, not a pattern", "no data block has a loop")
    add("ragged-loop.cif", cif_loop([f"{x:.2f} {y:.0f}" for x, y in zip(X, Y)] + ["75.10"]),
        "a loop whose value count is not a multiple of its tags", "not valid CIF syntax")
    add("unknown-values.cif", cif_loop([f"{x:.2f} {'?' if i == 2 else f'{y:.0f}'}" for i, (x, y) in enumerate(zip(X, Y))]),
        "'?' as the third intensity", "loop row 3: _pd_meas_counts_total is '?'")
    add("range-count-mismatch.cif", cif_range(maximum=85.0), "the 2θ range has 651 points, the loop 551",
        "has 651 points but")
    add("tiny-increment.cif", cif_range().replace(b"_pd_meas_2theta_range_inc   0.10", b"_pd_meas_2theta_range_inc   1e-300"),
        "a 2θ increment of 1e-300", "would hold 5.5e+301 points")
    add("no-two-theta.cif", cif_range().replace(b"_pd_meas_2theta_range_min", b"_pd_meas_2theta_start_note"),
        "intensities without 2θ or a complete range", "has no 2θ column")
    add("png-named.cif", b"\x89PNG\r\n\x1a\n" + noise(200, "cifpng"), "a PNG image named .cif",
        "the content is a PNG image")
    return files


README_HEAD = """# Bad pattern files

Inputs that `xrdfast.readers.read_pattern` must refuse with `PatternReadError`, the file
named in the message, never another exception and never a crash. Written by
`tests/data/make_patterns.py` (do not edit by hand); `tests/test_readers.py` reads each one
and checks its message contains the fragment below. Made at test time instead of
committed: a file over 200 MB (sparse), one without read permission, a directory.

| File | Problem | Message contains |
| --- | --- | --- |
"""


def readme() -> bytes:
    rows = "".join(f"| `{name}` | {bad.problem} | `{bad.expect}` |\n" for name, bad in sorted(BAD.items()))
    return (README_HEAD + rows).encode()


def all_files() -> dict[Path, bytes]:
    out = {GOOD_DIR / name: content for name, content in good_files().items()}
    out.update({BAD_DIR / name: content for name, content in bad_files().items()})
    out[BAD_DIR / "README.md"] = readme()
    return out


def stale() -> list[str]:
    """Fixtures that differ from what this script writes, or that it does not write."""
    wanted = all_files()
    problems = [str(p.relative_to(HERE)) for p, content in wanted.items()
                if not p.is_file() or p.read_bytes() != content]
    for folder in (GOOD_DIR, BAD_DIR):
        if folder.is_dir():
            problems += [f"{p.relative_to(HERE)} (not written by this script)"
                         for p in folder.iterdir() if p not in wanted]
    return problems


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = stale()
        for problem in problems:
            print(f"stale: {problem}")
        return 1 if problems else 0
    for path, content in all_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    print(f"wrote {len(GOOD)} good and {len(BAD)} bad files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
