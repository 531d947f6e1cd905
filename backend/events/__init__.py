"""Events and volunteer check-in / check-out (志愿服务, 活动签到): sign-ups, attendance, hours turned into points."""
