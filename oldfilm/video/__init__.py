"""Video I/O with PyAV, in-process: probe, decode, encode, audio/subtitle passthrough, resumable
segments, and the threaded runner (runner.process_video). `info` describes files for `oldfilm info`.
"""
from .probe import VIDEO_EXTENSIONS, StreamInfo, VideoInfo, is_video, probe
from .runner import VideoResult, process_video

__all__ = ["VIDEO_EXTENSIONS", "StreamInfo", "VideoInfo", "VideoResult", "is_video", "probe",
           "process_video"]
